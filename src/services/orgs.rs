//! The organization: its name, members, roles and invitations.

use chrono::Utc;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::access::{Caller, OrgScope};
use super::{Services, new_id, ts, validate};
use crate::error::{ApiError, Error, Result};
use crate::secrets;
use crate::store::entities::{
    Role, api_key, invitation, org_member, organization, project, project_member, session, user,
};
use protocol as dto;

const LAST_ADMIN: &str =
    "An organization needs at least one admin. Make someone else an admin first.";

impl Services {
    pub async fn organization(&self, caller: &Caller) -> Result<dto::Organization> {
        let scope = caller.org_scope()?;
        self.org_dto(&scope).await
    }

    async fn org_dto(&self, scope: &OrgScope) -> Result<dto::Organization> {
        let org = organization::Entity::find_by_id(scope.org_id.clone())
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::not_found("Organization"))?;
        Ok(dto::Organization {
            id: org.id,
            name: org.name,
            role: scope.role.into(),
            created_at: ts(org.created_at),
        })
    }

    pub async fn rename_organization(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<dto::Organization> {
        let scope = caller.org_scope()?;
        scope.require_admin()?;
        let name = validate::name(name, 100, "Organization name")
            .map_err(|m| ApiError::field("name", m))?;
        organization::Entity::update_many()
            .col_expr(organization::Column::Name, Expr::value(name))
            .filter(organization::Column::Id.eq(scope.org_id.clone()))
            .exec(self.db())
            .await?;
        self.org_dto(&scope).await
    }

    pub async fn org_members(&self, caller: &Caller) -> Result<Vec<dto::OrgMember>> {
        let scope = caller.org_scope()?;
        let members = org_member::Entity::find()
            .filter(org_member::Column::OrgId.eq(scope.org_id.clone()))
            .order_by_asc(org_member::Column::CreatedAt)
            .all(self.db())
            .await?;
        let users = self
            .users_by_id(members.iter().map(|m| m.user_id.clone()).collect())
            .await?;
        Ok(members
            .into_iter()
            .filter_map(|m| {
                let u = users.iter().find(|u| u.id == m.user_id)?;
                Some(dto::OrgMember {
                    user_id: u.id.clone(),
                    email: u.email.clone(),
                    username: u.username.clone(),
                    name: u.name.clone(),
                    role: m.role.into(),
                    joined_at: ts(m.created_at),
                })
            })
            .collect())
    }

    pub(crate) async fn users_by_id(&self, ids: Vec<String>) -> Result<Vec<user::Model>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .all(self.db())
            .await?)
    }

    async fn org_member_in_scope(
        &self,
        scope: &OrgScope,
        user_id: &str,
    ) -> Result<org_member::Model> {
        org_member::Entity::find_by_id((scope.org_id.clone(), user_id.to_owned()))
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::not_found("Member").into())
    }

    pub async fn set_org_role(
        &self,
        caller: &Caller,
        user_id: &str,
        role: dto::Role,
    ) -> Result<dto::OrgMember> {
        let scope = caller.org_scope()?;
        scope.require_admin()?;
        let member = self.org_member_in_scope(&scope, user_id).await?;
        let org_id = scope.org_id.clone();
        let user_id_owned = user_id.to_owned();
        self.db()
            .transaction::<_, (), Error>(move |txn| {
                Box::pin(async move {
                    if member.role == Role::Admin && role == dto::Role::Member {
                        ensure_other_admin(txn, &org_id, &user_id_owned).await?;
                    }
                    let mut active: org_member::ActiveModel = member.into();
                    active.role = Set(role.into());
                    active.update(txn).await?;
                    Ok(())
                })
            })
            .await?;
        self.access_changed(user_id);
        self.org_members(caller)
            .await?
            .into_iter()
            .find(|m| m.user_id == user_id)
            .ok_or_else(|| ApiError::not_found("Member").into())
    }

    /// Removes a person from the organization. Their sessions end and the keys they created
    /// stop working at once: a removed person keeps no way in.
    pub async fn remove_org_member(&self, caller: &Caller, user_id: &str) -> Result<()> {
        let scope = caller.org_scope()?;
        scope.require_admin()?;
        let member = self.org_member_in_scope(&scope, user_id).await?;
        let org_id = scope.org_id.clone();
        let removed = user_id.to_owned();
        let user_id = user_id.to_owned();
        self.db()
            .transaction::<_, (), Error>(move |txn| {
                Box::pin(async move {
                    if member.role == Role::Admin {
                        ensure_other_admin(txn, &org_id, &user_id).await?;
                    }
                    let org_projects = Query::select()
                        .column(project::Column::Id)
                        .from(project::Entity)
                        .and_where(project::Column::OrgId.eq(org_id.clone()))
                        .to_owned();
                    project_member::Entity::delete_many()
                        .filter(project_member::Column::UserId.eq(user_id.clone()))
                        .filter(project_member::Column::ProjectId.in_subquery(org_projects.clone()))
                        .exec(txn)
                        .await?;
                    api_key::Entity::update_many()
                        .col_expr(api_key::Column::RevokedAt, Expr::value(Utc::now()))
                        .filter(api_key::Column::CreatedBy.eq(user_id.clone()))
                        .filter(api_key::Column::RevokedAt.is_null())
                        .filter(api_key::Column::ProjectId.in_subquery(org_projects))
                        .exec(txn)
                        .await?;
                    org_member::Entity::delete_by_id((org_id.clone(), user_id.clone()))
                        .exec(txn)
                        .await?;
                    session::Entity::delete_many()
                        .filter(session::Column::UserId.eq(user_id.clone()))
                        .exec(txn)
                        .await?;
                    user::Entity::update_many()
                        .col_expr(
                            user::Column::DefaultProjectId,
                            Expr::value(Option::<String>::None),
                        )
                        .filter(user::Column::Id.eq(user_id))
                        .exec(txn)
                        .await?;
                    Ok(())
                })
            })
            .await?;
        self.access_changed(&removed);
        Ok(())
    }

    pub async fn invitations(&self, caller: &Caller) -> Result<Vec<dto::Invitation>> {
        let scope = caller.org_scope()?;
        scope.require_admin()?;
        let rows = invitation::Entity::find()
            .filter(invitation::Column::OrgId.eq(scope.org_id.clone()))
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
            .filter(invitation::Column::InvitedBy.in_subquery(admins_of(&scope.org_id)))
            .order_by_desc(invitation::Column::CreatedAt)
            .all(self.db())
            .await?;
        Ok(rows.into_iter().map(invitation_dto).collect())
    }

    pub async fn invite(
        &self,
        caller: &Caller,
        input: dto::input::Invite,
    ) -> Result<dto::CreatedInvitation> {
        let scope = caller.org_scope()?;
        scope.require_admin()?;
        let email = validate::normalize_email(&input.email);
        if !validate::email_ok(&input.email) {
            return Err(ApiError::field("email", "Enter a valid email address.").into());
        }
        if self.find_user_by_email(&email).await?.is_some() {
            return Err(ApiError::conflict_field(
                "email",
                "This person already has a Sigmic account; invitations are for new accounts.",
            )
            .into());
        }
        let role = input.role.unwrap_or(dto::Role::Member);
        let token = secrets::random_hex(32)?;
        let now = Utc::now();
        let row = invitation::ActiveModel {
            id: Set(new_id()),
            org_id: Set(scope.org_id.clone()),
            email: Set(email.clone()),
            role: Set(role.into()),
            token_hash: Set(secrets::sha256_hex(&token)),
            invited_by: Set(scope.user_id.clone()),
            created_at: Set(now),
            expires_at: Set(now + self.config().auth.invitation_ttl()),
            accepted_at: Set(None),
        }
        .insert(self.db())
        .await?;
        let link = format!("{}/signup?invite={token}", self.config().public_url());
        let org = self.org_dto(&scope).await?;
        let email_sent = match &self.inner.mailer {
            Some(mailer) => mailer.send_invitation(&email, &org.name, &link).await,
            None => {
                // No SMTP configured: the operator's log is the delivery channel of last resort.
                tracing::info!(%email, organization = %org.name, %link, "invitation created (no SMTP configured; share this link)");
                false
            }
        };
        Ok(dto::CreatedInvitation {
            id: row.id,
            email,
            role,
            expires_at: ts(row.expires_at),
            link,
            email_sent,
        })
    }

    pub async fn revoke_invitation(&self, caller: &Caller, id: &str) -> Result<()> {
        let scope = caller.org_scope()?;
        scope.require_admin()?;
        let deleted = invitation::Entity::delete_many()
            .filter(invitation::Column::Id.eq(id))
            .filter(invitation::Column::OrgId.eq(scope.org_id.clone()))
            .filter(invitation::Column::AcceptedAt.is_null())
            .exec(self.db())
            .await?;
        if deleted.rows_affected == 0 {
            return Err(ApiError::not_found("Invitation").into());
        }
        Ok(())
    }

    /// A usable invitation by its token: not used, not expired, and made by someone who is
    /// still an admin of its organization (an admin who was removed or demoted leaves no
    /// working invitation behind).
    pub(crate) async fn open_invitation(&self, token: &str) -> Result<invitation::Model> {
        let not_found = || ApiError::not_found("Invitation");
        let inv = invitation::Entity::find()
            .filter(invitation::Column::TokenHash.eq(secrets::sha256_hex(token.trim())))
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
            .one(self.db())
            .await?
            .ok_or_else(not_found)?;
        let inviter_is_admin =
            org_member::Entity::find_by_id((inv.org_id.clone(), inv.invited_by.clone()))
                .one(self.db())
                .await?
                .is_some_and(|m| m.role == Role::Admin);
        if !inviter_is_admin {
            return Err(not_found().into());
        }
        Ok(inv)
    }

    pub async fn invitation_preview(&self, token: &str) -> Result<dto::InvitationPreview> {
        let inv = self.open_invitation(token).await?;
        let org = organization::Entity::find_by_id(inv.org_id.clone())
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::not_found("Invitation"))?;
        Ok(dto::InvitationPreview {
            email: inv.email,
            organization_name: org.name,
            role: inv.role.into(),
            expires_at: ts(inv.expires_at),
        })
    }
}

fn invitation_dto(i: invitation::Model) -> dto::Invitation {
    dto::Invitation {
        id: i.id,
        email: i.email,
        role: i.role.into(),
        created_at: ts(i.created_at),
        expires_at: ts(i.expires_at),
    }
}

/// Refuses to take away `user_id`'s admin role when nobody else has it. Call it inside the
/// transaction that changes the role.
async fn ensure_other_admin<C: ConnectionTrait>(db: &C, org_id: &str, user_id: &str) -> Result<()> {
    let mut admins = org_member::Entity::find()
        .filter(org_member::Column::OrgId.eq(org_id))
        .filter(org_member::Column::Role.eq(Role::Admin));
    // Two admins demoting (or removing) each other at the same moment: each transaction locks
    // the organization's admin rows first, so the second waits for the first and then sees
    // its change. SQLite runs one writer at a time already.
    if db.get_database_backend() == DbBackend::Postgres {
        admins = admins.lock_exclusive();
    }
    let admins = admins.all(db).await?;
    if !admins.iter().any(|m| m.user_id != user_id) {
        return Err(ApiError::conflict_field("role", LAST_ADMIN).into());
    }
    Ok(())
}

/// The admins of an organization, as a subquery.
fn admins_of(org_id: &str) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(org_member::Column::UserId)
        .from(org_member::Entity)
        .and_where(org_member::Column::OrgId.eq(org_id))
        .and_where(org_member::Column::Role.eq(Role::Admin))
        .to_owned()
}
