//! The Console's server functions reach the services through `app::backend::Backend`. Each
//! method resolves the caller from the request's headers exactly as the REST API does, then
//! calls the same service.

use async_trait::async_trait;

use app::backend::{Backend, Issued, RequestCtx};
use app::dto::{self, input};
use app::error::ApiError;

use crate::services::Services;
use crate::services::access::Caller;
use crate::services::accounts::user_dto;

impl Services {
    async fn caller(&self, ctx: &RequestCtx) -> Result<Caller, ApiError> {
        Ok(self.require_caller(&ctx.headers).await?)
    }
}

#[async_trait]
impl Backend for Services {
    async fn signup(&self, _ctx: &RequestCtx, input: input::Signup) -> Result<Issued, ApiError> {
        let opened = Services::signup(self, input.into()).await?;
        Ok(Issued {
            user: user_dto(&opened.user),
            set_cookie: self.session_cookie(&opened.token),
        })
    }

    async fn login(&self, ctx: &RequestCtx, input: input::Login) -> Result<Issued, ApiError> {
        let opened = Services::login(self, &input.email, input.password, ctx.client_ip).await?;
        Ok(Issued {
            user: user_dto(&opened.user),
            set_cookie: self.session_cookie(&opened.token),
        })
    }

    async fn logout(&self, ctx: &RequestCtx) -> Result<String, ApiError> {
        let caller = self.authenticate(&ctx.headers).await.ok().flatten();
        Services::logout(self, caller.as_ref()).await?;
        Ok(self.clear_session_cookie())
    }

    async fn invitation_preview(&self, token: String) -> Result<dto::InvitationPreview, ApiError> {
        Ok(Services::invitation_preview(self, &token).await?)
    }

    async fn me(&self, ctx: &RequestCtx) -> Result<dto::Me, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::me(self, &caller).await?)
    }

    async fn organization(&self, ctx: &RequestCtx) -> Result<dto::Organization, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::organization(self, &caller).await?)
    }

    async fn rename_organization(
        &self,
        ctx: &RequestCtx,
        name: String,
    ) -> Result<dto::Organization, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::rename_organization(self, &caller, &name).await?)
    }

    async fn org_members(&self, ctx: &RequestCtx) -> Result<Vec<dto::OrgMember>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::org_members(self, &caller).await?)
    }

    async fn set_org_role(
        &self,
        ctx: &RequestCtx,
        user_id: String,
        role: dto::Role,
    ) -> Result<dto::OrgMember, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::set_org_role(self, &caller, &user_id, role).await?)
    }

    async fn remove_org_member(&self, ctx: &RequestCtx, user_id: String) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::remove_org_member(self, &caller, &user_id).await?)
    }

    async fn invitations(&self, ctx: &RequestCtx) -> Result<Vec<dto::Invitation>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::invitations(self, &caller).await?)
    }

    async fn invite(
        &self,
        ctx: &RequestCtx,
        input: input::Invite,
    ) -> Result<dto::CreatedInvitation, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::invite(self, &caller, input).await?)
    }

    async fn revoke_invitation(&self, ctx: &RequestCtx, id: String) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::revoke_invitation(self, &caller, &id).await?)
    }

    async fn projects(&self, ctx: &RequestCtx) -> Result<Vec<dto::Project>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(self.list_projects(&caller).await?)
    }

    async fn create_project(
        &self,
        ctx: &RequestCtx,
        name: String,
    ) -> Result<dto::Project, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::create_project(self, &caller, &name).await?)
    }

    async fn rename_project(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        name: String,
    ) -> Result<dto::Project, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::rename_project(self, &caller, &project_id, &name).await?)
    }

    async fn delete_project(&self, ctx: &RequestCtx, project_id: String) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::delete_project(self, &caller, &project_id).await?)
    }

    async fn project_members(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<dto::ProjectMember>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::project_members(self, &caller, &project_id).await?)
    }

    async fn add_project_member(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: input::AddProjectMember,
    ) -> Result<dto::ProjectMember, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::add_project_member(self, &caller, &project_id, input).await?)
    }

    async fn set_project_role(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        user_id: String,
        role: dto::Role,
    ) -> Result<dto::ProjectMember, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::set_project_role(self, &caller, &project_id, &user_id, role).await?)
    }

    async fn remove_project_member(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        user_id: String,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::remove_project_member(self, &caller, &project_id, &user_id).await?)
    }

    async fn api_keys(
        &self,
        ctx: &RequestCtx,
        project_id: String,
    ) -> Result<Vec<dto::ApiKey>, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::api_keys(self, &caller, &project_id).await?)
    }

    async fn create_api_key(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        input: input::CreateApiKey,
    ) -> Result<dto::CreatedApiKey, ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::create_api_key(self, &caller, &project_id, input).await?)
    }

    async fn revoke_api_key(
        &self,
        ctx: &RequestCtx,
        project_id: String,
        key_id: String,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx).await?;
        Ok(Services::revoke_api_key(self, &caller, &project_id, &key_id).await?)
    }

    fn openapi_json(&self) -> String {
        crate::http::router::openapi_document()
    }
}
