//! Habits users bring from other tools: shell completions, a man page, and `report [--open]`.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::app::Cli;
use super::exit::CliError;

#[derive(Debug, clap::Subcommand)]
pub enum HabitsCommand {
    /// Print a shell completion script: `source <(minorfirst completions bash)`, or save it where
    /// the shell loads completions (zsh: a `_minorfirst` file on $fpath; fish:
    /// ~/.config/fish/completions/minorfirst.fish).
    Completions(CompletionsArgs),
    /// Print the man page (roff) of the binary or of one subcommand: `minorfirst man | man -l -`.
    Man(ManArgs),
    /// Print the file:// URL of the report (`reports/index.html`); --open opens it in a browser.
    Report(ReportArgs),
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// A subcommand whose page to print (default: the top-level page, which lists them all).
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The pipeline file whose reports directory holds the page.
    #[arg(long, value_name = "FILE", default_value = "pipeline.toml")]
    pub pipeline: PathBuf,
    /// Open the page with $BROWSER (a command; `%s` in it is replaced by the URL), else
    /// `xdg-open` (`open` on macOS), and wait for that command to return.
    #[arg(long)]
    pub open: bool,
}

pub fn run(command: HabitsCommand) -> Result<(), CliError> {
    match command {
        HabitsCommand::Completions(args) => {
            let mut out = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "minorfirst", &mut out);
            super::engine::print_stdout(&String::from_utf8_lossy(&out))
        }
        HabitsCommand::Man(args) => man(args),
        HabitsCommand::Report(args) => report(args),
    }
}

fn man(args: ManArgs) -> Result<(), CliError> {
    let mut command = Cli::command();
    command.build();
    let (page, title) = match &args.subcommand {
        None => (command, "minorfirst".to_string()),
        Some(name) => {
            let Some(sub) = command
                .find_subcommand(name)
                .filter(|sub| !sub.is_hide_set())
            else {
                let names: Vec<&str> = command
                    .get_subcommands()
                    .filter(|sub| !sub.is_hide_set())
                    .map(|sub| sub.get_name())
                    .collect();
                return Err(CliError::bad_input(format!(
                    "man {name}: no such subcommand (expected one of: {})",
                    names.join(", ")
                )));
            };
            (sub.clone(), format!("minorfirst-{}", sub.get_name()))
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .title(title)
        .render(&mut out)
        .map_err(|error| CliError::unexpected(format!("cannot render the man page: {error}")))?;
    super::engine::print_stdout(&String::from_utf8_lossy(&out))
}

/// `file://` URL of an absolute path, percent-encoding every byte outside RFC 3986's unreserved
/// set and `/`, so a terminal can make it clickable whatever the path contains.
pub fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            url.push(byte as char);
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// The `file://` URL of a page (made absolute against the current directory).
pub fn page_url(page: &Path) -> String {
    let absolute = std::path::absolute(page).unwrap_or_else(|_| page.to_path_buf());
    file_url(&absolute)
}

fn report(args: ReportArgs) -> Result<(), CliError> {
    let config = pipeline::Config::load(&args.pipeline)
        .map_err(|error| CliError::bad_input(error.to_string()))?;
    let page = config.reports.join("index.html");
    if !page.is_file() {
        return Err(CliError::bad_input(format!(
            "no report at {}: run `minorfirst run` first",
            page.display()
        )));
    }
    let url = page_url(&page);
    super::engine::print_stdout(&format!("{url}\n"))?;
    if !args.open {
        return Ok(());
    }
    let (program, arguments) = opener(&url);
    let status = std::process::Command::new(&program)
        .args(&arguments)
        .status()
        .map_err(|error| {
            CliError::unexpected(format!(
                "cannot start `{program}` to open the report ({error}); set $BROWSER or open {url} by hand"
            ))
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::unexpected(format!(
            "`{program}` exited with {status} while opening {url}"
        )))
    }
}

/// The command that opens `url`: $BROWSER (split on whitespace, `%s` replaced by the URL, or the
/// URL appended), else the platform's opener.
fn opener(url: &str) -> (String, Vec<String>) {
    if let Some(browser) = std::env::var("BROWSER")
        .ok()
        .filter(|value| !value.trim().is_empty())
    {
        let mut words: Vec<String> = browser.split_whitespace().map(str::to_owned).collect();
        let program = words.remove(0);
        if words.iter().any(|word| word.contains("%s")) {
            for word in &mut words {
                *word = word.replace("%s", url);
            }
        } else {
            words.push(url.to_owned());
        }
        return (program, words);
    }
    let program = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    (program.to_owned(), vec![url.to_owned()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_percent_encode_what_a_terminal_would_split_on() {
        assert_eq!(
            file_url(Path::new("/tmp/a b/ré#1/index.html")),
            "file:///tmp/a%20b/r%C3%A9%231/index.html"
        );
    }
}
