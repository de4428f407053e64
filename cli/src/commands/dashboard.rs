//! `botctl dashboard`: where the owners' dashboard is, read from botctl.toml right here
//! (no agent needed).

use botctl_proto::config;

use crate::CliError;
use crate::client::Target;
use crate::render;

pub fn run(target: &Target, json: bool) -> Result<(), CliError> {
    let file = config::read_global(&target.paths.config_file).map_err(|problems| {
        CliError::failed(
            problems
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let Some(http) = file.config.remote.http.as_ref() else {
        if let Some(e) = file
            .off
            .iter()
            .find(|e| config::own_section(e) == Some("remote.http"))
        {
            return Err(CliError::failed(format!("no dashboard: {e}")));
        }
        return Err(CliError::failed(format!(
            "no dashboard: {} has no [remote.http] listen = \"127.0.0.1:PORT\"",
            target.paths.display(&target.paths.config_file)
        )));
    };
    let url = http.url();
    if json {
        render::print_json(&serde_json::json!({ "url": url }));
    } else {
        println!("{url}");
        eprintln!("sign in with a token from `botctl tokens create --user NAME`");
    }
    Ok(())
}
