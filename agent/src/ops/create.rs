//! `bots create`: limits and quota first, then the directory from the template, then the
//! file; a failure half-way removes what was made.

use std::path::Path;

use botctl_proto::config::{self, BotConfig};
use botctl_proto::{BotOutcome, CreateBot, RpcError};

use super::add::{admit, new_bot_file};
use super::{Ops, Who, config_error_text};
use crate::events::{Event, EventKind};
use crate::storage;

const MIB: u64 = 1024 * 1024;

pub async fn create(ops: &Ops, who: &Who, req: CreateBot) -> Result<BotOutcome, RpcError> {
    let fleet = &ops.fleet;
    let _guard = fleet.changing().await;
    let paths = &ops.ctx.paths;
    if !config::valid_owner_name(&req.owner) {
        return Err(RpcError::invalid(format!(
            "invalid owner name {:?}: use letters, digits, _, . and -",
            req.owner
        )));
    }
    let file = new_bot_file(ops, who, &req.name, &req.owner)?;
    let tdir = paths.templates_dir.join(&req.template);
    if !config::valid_bot_name(&req.template) || !tdir.is_dir() {
        return Err(RpcError::not_found(format!(
            "no template {:?} in {}: `botctl templates list` shows them",
            req.template,
            paths.display(&paths.templates_dir)
        )));
    }
    let template = config::load_template(&tdir).map_err(|e| RpcError::invalid(e.to_string()))?;
    let bot = config::bot_from_template(&req.name, &req.owner, &template, &req.sets, &file)
        .map_err(|e| RpcError::invalid(config_error_text(&e)))?;
    fleet.read(|r| {
        r.admit_one(&bot.user).map_err(|reason| {
            RpcError::conflict(format!("cannot create {}: {reason}", req.name))
        })?;
        let owned: Vec<&BotConfig> = r
            .bots
            .values()
            .filter(|e| e.handle.owner() == req.owner)
            .map(|e| &*e.handle.config)
            .collect();
        let used = storage::owner_usage(paths, &req.owner, &owned);
        let needs = storage::copies_size(paths, &template);
        let quota = r.global.storage_quota_for(&req.owner).saturating_mul(MIB);
        if used + needs > quota {
            return Err(RpcError::conflict(format!(
                "cannot create {}: owner {} uses {} of storage_quota_mb = {} and the copies of template {} need {} more",
                req.name,
                req.owner,
                botctl_proto::human::bytes(used),
                quota / MIB,
                template.name,
                botctl_proto::human::bytes(needs)
            )));
        }
        Ok(())
    })?;
    // Copying the template's files is blocking work of any size: off the runtime.
    let dir = {
        let (paths, template) = (paths.clone(), template.clone());
        let (owner, name) = (req.owner.clone(), req.name.clone());
        crate::util::off_runtime(move || storage::create_bot_dir(&paths, &template, &owner, &name))
            .await
            .map_err(RpcError::internal)?
    };
    if let Err(e) = crate::util::write_atomically(&file, &bot.to_toml()) {
        let _ = storage::fsops::remove_under(
            &paths.bots_root,
            &Path::new(&req.owner).join(&req.name),
            false,
        );
        return Err(RpcError::internal(format!(
            "cannot write {}: {e}",
            paths.display(&file)
        )));
    }
    ops.ctx.record(
        Event::new(
            EventKind::Created,
            format!(
                "created from template {} in {}",
                template.name,
                paths.display(&dir)
            ),
        )
        .of(&bot.name, &bot.user)
        .by(&who.actor),
    );
    Ok(admit(ops, bot, req.start, "created").await)
}
