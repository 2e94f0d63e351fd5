//! What a command hands back to `main`: text for people, the same as JSON for machines, and an
//! exit code. `main` prints one of the two, so no command branches on `--json`.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

/// The result of one command.
#[derive(Debug, Default)]
pub struct Outcome {
    /// For people (stdout, without `--json`).
    pub text: String,
    /// For machines (stdout, with `--json`); nothing is printed when it is `None`.
    pub json: Option<Value>,
    /// For people in both modes (stderr): summaries beside data written to stdout or a file.
    pub note: String,
    /// 0 success, 1 rejected or invalid input found (the command still ran), 2 could not run.
    pub code: u8,
}

impl Outcome {
    /// An outcome with `text` for people and `value` for machines.
    pub fn new(text: impl Into<String>, value: &impl Serialize) -> Outcome {
        Outcome {
            text: text.into(),
            json: Some(serde_json::to_value(value).unwrap_or(Value::Null)),
            ..Outcome::default()
        }
    }

    /// An outcome that only says something on stderr (the data went elsewhere).
    pub fn note(note: impl Into<String>) -> Outcome {
        Outcome {
            note: note.into(),
            ..Outcome::default()
        }
    }

    /// Exit 1 (something was rejected, failed a check or did not verify) when `failed`.
    #[must_use]
    pub fn failed_if(mut self, failed: bool) -> Outcome {
        if failed {
            self.code = 1;
        }
        self
    }

    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Outcome {
        self.note = note.into();
        self
    }

    /// Prints it (the JSON form with `json`) and gives the exit code.
    pub fn print(self, json: bool) -> std::io::Result<ExitCode> {
        let mut out = std::io::stdout().lock();
        if json {
            if let Some(v) = &self.json {
                serde_json::to_writer_pretty(&mut out, v)?;
                writeln!(out)?;
            }
        } else if !self.text.is_empty() {
            out.write_all(self.text.as_bytes())?;
            if !self.text.ends_with('\n') {
                writeln!(out)?;
            }
        }
        out.flush()?;
        if !self.note.is_empty() {
            let mut err = std::io::stderr().lock();
            err.write_all(self.note.as_bytes())?;
            if !self.note.ends_with('\n') {
                writeln!(err)?;
            }
        }
        Ok(ExitCode::from(self.code))
    }
}
