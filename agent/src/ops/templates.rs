//! `templates list`: the templates under templates/, with how many of the caller's bots use
//! each and their size.

use std::sync::Arc;

use botctl_proto::TemplateInfo;

use super::{Ops, Who};
use crate::storage;

/// Listing and sizing templates walks directories: off the runtime.
pub async fn templates(ops: &Arc<Ops>, who: &Who) -> Vec<TemplateInfo> {
    let (ops, who) = (ops.clone(), who.clone());
    crate::util::off_runtime(move || templates_now(&ops, &who)).await
}

fn templates_now(ops: &Ops, who: &Who) -> Vec<TemplateInfo> {
    let paths = &ops.ctx.paths;
    let counts: Vec<String> = ops.fleet.read(|r| {
        r.configs()
            .filter(|c| who.caller.sees(&c.user))
            .filter_map(|c| c.template.clone())
            .collect()
    });
    let count = |t: &str| counts.iter().filter(|c| *c == t).count() as u32;
    let bytes = |t: &str| {
        storage::fsops::usage(&paths.templates_dir.join(t))
            .map(|u| u.bytes)
            .unwrap_or(0)
    };
    storage::templates(paths)
        .into_iter()
        .map(|t| match t {
            Ok(t) => TemplateInfo {
                bots: count(&t.name),
                bytes: bytes(&t.name),
                name: t.name,
                description: t.description,
                command: t.command,
                platform: t.platform.to_string(),
                problem: None,
            },
            Err((name, problem)) => TemplateInfo {
                bots: count(&name),
                bytes: bytes(&name),
                name,
                description: None,
                command: Vec::new(),
                platform: "-".into(),
                problem: Some(problem),
            },
        })
        .collect()
}
