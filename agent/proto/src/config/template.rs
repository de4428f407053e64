//! `templates/NAME/template.toml`: shared bot code's settings, and the bot file `bots create`
//! makes from a template plus `--set KEY=VALUE` overrides.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Value;

use super::bot::{check_command, check_env, check_env_file, check_sections};
use super::*;

pub const TEMPLATE_FILE: &str = "template.toml";

/// `templates/NAME/template.toml`: how to make a bot from shared code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemplateConfig {
    /// The directory's name, not a field of the file.
    #[serde(skip)]
    pub name: String,
    pub description: Option<String>,
    pub command: Vec<String>,
    pub platform: Platform,
    /// Entries every bot gets its own copy of (e.g. config.json, .env).
    pub copy: Vec<String>,
    /// Directories made empty in every bot (e.g. data, tmp).
    pub dirs: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// As in a bot file, relative to each bot's directory (e.g. a copied `.env`).
    pub env_file: Option<String>,
    pub restart: RestartOverrides,
    pub limits: LimitOverrides,
    pub health: Option<HealthCheck>,
    pub auth: Option<AuthConfig>,
}

impl TemplateConfig {
    fn check(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut say = |field: &str, message: &str| out.push((field.to_string(), message.into()));
        check_command(&mut say, &self.command);
        check_env(&mut say, &self.env);
        check_env_file(&mut say, self.env_file.as_deref());
        check_sections(&mut say, self.health.as_ref(), self.auth.as_ref());
        for (key, paths) in [("copy", &self.copy), ("dirs", &self.dirs)] {
            for p in paths {
                let path = Path::new(p);
                let plain = !p.is_empty()
                    && path.is_relative()
                    && path
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)));
                if !plain {
                    say(
                        key,
                        &format!("{p:?} must be a relative path inside the template, without `..`"),
                    );
                }
            }
        }
        if let Some(both) = self.copy.iter().find(|c| self.dirs.contains(c)) {
            say(
                "dirs",
                &format!("{both:?} is also in copy: list it in one of them"),
            );
        }
        out
    }
}

pub fn parse_template(name: &str, path: &Path, text: &str) -> Result<TemplateConfig, ConfigError> {
    if !valid_bot_name(name) {
        return Err(file_error(
            path,
            format!("invalid template name {name:?}: use lowercase letters, digits, _ and -"),
        ));
    }
    let mut template: TemplateConfig =
        parse_file(path, text, TemplateConfig::check).map_err(first)?;
    template.name = name.to_string();
    Ok(template)
}

/// Reads `DIR/template.toml`; the template's name is the directory name.
pub fn load_template(dir: &Path) -> Result<TemplateConfig, ConfigError> {
    let path = dir.join(TEMPLATE_FILE);
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = fsread::read_regular_string(&path, fsread::CONFIG_FILE_CAP).map_err(|e| {
        let mut e = unreadable(&path, &e);
        e.message
            .push_str(&format!(" (every template needs a {TEMPLATE_FILE})"));
        e
    })?;
    parse_template(&name, &path, &text)
}

/// The bot file `bots create` writes: the template's settings, then `--set KEY=VALUE`
/// overrides (dotted keys, TOML values or plain strings), validated like any bot file.
pub fn bot_from_template(
    name: &str,
    owner: &str,
    template: &TemplateConfig,
    sets: &[(String, String)],
    path: &Path,
) -> Result<BotConfig, ConfigError> {
    let base = BotConfig {
        name: name.to_string(),
        user: owner.to_string(),
        command: template.command.clone(),
        env: template.env.clone(),
        env_file: template.env_file.clone(),
        platform: template.platform,
        template: Some(template.name.clone()),
        restart: template.restart.clone(),
        limits: template.limits.clone(),
        health: template.health.clone(),
        auth: template.auth.clone(),
        ..BotConfig::default()
    };
    let mut table: toml::Table = base.to_toml().parse().expect("to_toml writes valid TOML");
    let refuse = |key: &str, message: String| ConfigError {
        file: path.to_path_buf(),
        field: Some(key.to_string()),
        message,
        location: None,
    };
    for (key, raw) in sets {
        let value = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| Value::String(raw.clone()));
        let parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) || matches!(parts[0], "user" | "template") {
            return Err(refuse(
                key,
                "cannot be set here: use a field of the bot file such as env.KEY, \
                 platform or limits.max_memory_mb (the owner is --user)"
                    .into(),
            ));
        }
        let mut at = &mut table;
        for part in &parts[..parts.len() - 1] {
            let entry = at
                .entry(part.to_string())
                .or_insert_with(|| Value::Table(toml::Table::new()));
            at = match entry {
                Value::Table(t) => t,
                _ => return Err(refuse(key, format!("{part} is not a section"))),
            };
        }
        at.insert(parts[parts.len() - 1].to_string(), value);
    }
    let text = toml::to_string(&table).expect("a table serializes");
    // Lines and columns would point into a file nobody wrote: the field path says it.
    parse_bot(name, path, &text).map_err(|e| ConfigError {
        location: None,
        ..e
    })
}
