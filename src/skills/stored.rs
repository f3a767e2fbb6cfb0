//! Skills in the database: a row per skill and its files beside it. A new version replaces
//! the files and bumps the version in the caller's transaction, so a reader sees the old
//! skill or the new one, never a mix.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::view::LaidOut;
use super::{BundleFile, Manifest, SkillBundle, SkillName};
use crate::store::entities::{skill, skill_file};

/// A project's skills, by name.
pub async fn rows<C: ConnectionTrait>(
    db: &C,
    project_id: &str,
) -> Result<Vec<skill::Model>, DbErr> {
    skill::Entity::find()
        .filter(skill::Column::ProjectId.eq(project_id))
        .order_by_asc(skill::Column::Name)
        .all(db)
        .await
}

/// A skill's files, `SKILL.md` first, then by path.
pub async fn files<C: ConnectionTrait>(db: &C, skill_id: &str) -> Result<Vec<BundleFile>, DbErr> {
    let mut files: Vec<BundleFile> = skill_file::Entity::find()
        .filter(skill_file::Column::SkillId.eq(skill_id))
        .order_by_asc(skill_file::Column::Path)
        .all(db)
        .await?
        .into_iter()
        .map(|f| BundleFile {
            path: f.path,
            content: f.content,
            executable: f.executable,
        })
        .collect();
    files.sort_by_key(|f| (f.path != super::SKILL_MD, f.path.clone()));
    Ok(files)
}

/// A skill's files without their contents, `SKILL.md` first.
pub async fn index<C: ConnectionTrait>(
    db: &C,
    skill_id: &str,
) -> Result<Vec<protocol::skills::SkillFile>, DbErr> {
    let rows: Vec<(String, i64, bool)> = skill_file::Entity::find()
        .select_only()
        .column(skill_file::Column::Path)
        .column(skill_file::Column::Size)
        .column(skill_file::Column::Executable)
        .filter(skill_file::Column::SkillId.eq(skill_id))
        .order_by_asc(skill_file::Column::Path)
        .into_tuple()
        .all(db)
        .await?;
    let mut files: Vec<_> = rows
        .into_iter()
        .map(|(path, size, executable)| protocol::skills::SkillFile {
            path,
            size: u64::try_from(size).unwrap_or(0),
            executable,
        })
        .collect();
    files.sort_by_key(|f| (f.path != super::SKILL_MD, f.path.clone()));
    Ok(files)
}

/// The stored skill as a bundle (for an export).
pub async fn bundle<C: ConnectionTrait>(db: &C, row: &skill::Model) -> Result<SkillBundle, DbErr> {
    let name = SkillName::parse(&row.name, "name").map_err(|e| DbErr::Custom(e.to_string()))?;
    Ok(SkillBundle {
        manifest: Manifest {
            name,
            description: row.description.clone(),
            instructions: row.instructions.clone(),
        },
        files: files(db, &row.id).await?,
    })
}

/// What a run of the project uses: each enabled skill's name and description (for the
/// prompt) and its files (for `/skills`), read in one go when the run starts.
pub async fn for_run<C: ConnectionTrait>(
    db: &C,
    project_id: &str,
) -> Result<Vec<(String, LaidOut)>, DbErr> {
    let mut out = Vec::new();
    for row in rows(db, project_id).await? {
        if !row.enabled {
            continue;
        }
        let files = files(db, &row.id).await?;
        out.push((
            row.description,
            LaidOut {
                name: row.name,
                files,
            },
        ));
    }
    Ok(out)
}

/// Stores `bundle` as a new skill of the project, or as the next version of `existing`.
pub async fn save<C: ConnectionTrait>(
    db: &C,
    project_id: &str,
    bundle: &SkillBundle,
    enabled: bool,
    existing: Option<skill::Model>,
) -> Result<skill::Model, DbErr> {
    let now = Utc::now();
    let row = match existing {
        Some(row) => {
            skill_file::Entity::delete_many()
                .filter(skill_file::Column::SkillId.eq(&row.id))
                .exec(db)
                .await?;
            let version = row.version + 1;
            let mut active: skill::ActiveModel = row.into();
            active.name = Set(bundle.manifest.name.to_string());
            active.description = Set(bundle.manifest.description.clone());
            active.instructions = Set(bundle.manifest.instructions.clone());
            active.enabled = Set(enabled);
            active.version = Set(version);
            active.updated_at = Set(now);
            active.update(db).await?
        }
        None => {
            skill::ActiveModel {
                id: Set(crate::ids::new_id()),
                project_id: Set(project_id.to_owned()),
                name: Set(bundle.manifest.name.to_string()),
                description: Set(bundle.manifest.description.clone()),
                instructions: Set(bundle.manifest.instructions.clone()),
                enabled: Set(enabled),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await?
        }
    };
    for file in &bundle.files {
        skill_file::Entity::insert(skill_file::ActiveModel {
            skill_id: Set(row.id.clone()),
            path: Set(file.path.clone()),
            size: Set(i64::try_from(file.content.len()).unwrap_or(i64::MAX)),
            content: Set(file.content.clone()),
            executable: Set(file.executable),
        })
        .exec_without_returning(db)
        .await?;
    }
    Ok(row)
}

/// Removes skills and their files.
pub async fn delete<C: ConnectionTrait>(db: &C, ids: Vec<String>) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    skill_file::Entity::delete_many()
        .filter(skill_file::Column::SkillId.is_in(ids.clone()))
        .exec(db)
        .await?;
    skill::Entity::delete_many()
        .filter(skill::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(())
}
