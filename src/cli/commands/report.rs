//! `minorfirst report [--open]`: the file:// URL of the page, opened in a browser on request.

use std::path::{Path, PathBuf};

use crate::cli::exit::{CliError, print_stdout};

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

pub fn run(args: ReportArgs) -> Result<(), CliError> {
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
    print_stdout(&format!("{url}\n"))?;
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
