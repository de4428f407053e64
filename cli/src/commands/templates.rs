//! `botctl templates list`: the shared code bots are made from, and how many bots use each.

use std::time::Duration;

use crate::render::Cell;

use crate::CliError;
use crate::client::{Target, connect, ctx};
use crate::render;

pub async fn list(target: &Target, json: bool) -> Result<(), CliError> {
    let session = connect(target).await?;
    let templates = session
        .client
        .templates(ctx(Duration::from_secs(60)))
        .await?;
    if json {
        render::print_json(&templates);
        return Ok(());
    }
    if templates.is_empty() {
        println!(
            "no templates in {}: make a directory there with a template.toml",
            target.paths.templates_dir.display()
        );
        return Ok(());
    }
    let mut table = render::table(&[
        "TEMPLATE",
        "DESCRIPTION",
        "BOTS",
        "SIZE",
        "PLATFORM",
        "COMMAND",
    ]);
    for t in &templates {
        table.add_row(vec![
            Cell::new(&t.name),
            Cell::new(t.description.as_deref().unwrap_or("-")),
            Cell::new(t.bots),
            Cell::new(render::bytes(t.bytes)),
            Cell::new(&t.platform),
            Cell::new(match &t.problem {
                Some(p) => format!("unusable: {p}"),
                None => t.command.join(" "),
            }),
        ]);
    }
    println!("{table}");
    Ok(())
}
