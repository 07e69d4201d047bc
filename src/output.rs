//! `-o FILE`: never an input, never truncated before the run ends — the report is written to
//! a temporary file beside FILE and renamed over it at the end (`sniff` writes FILE as it
//! goes, never through a link, so that it can be followed).

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// An output file being written.
pub struct Staged {
    path: PathBuf,
    /// The temporary file beside `path`, or `None` when `path` is written directly (a
    /// device or a pipe such as /dev/null, which must not be replaced).
    tmp: Option<PathBuf>,
    file: File,
}

/// The same file by device and inode (links followed, so a link to an input is the input).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// Refuse an output that is one of the inputs.
pub fn refuse_inputs(path: &Path, inputs: &[String]) -> Result<()> {
    for i in inputs.iter().filter(|i| i.as_str() != "-") {
        if same_file(path, Path::new(i)) {
            bail!(
                "{}: is the input {i}; refusing to write the report over it",
                path.display()
            );
        }
    }
    Ok(())
}

impl Staged {
    /// Open the temporary file beside `path`.
    pub fn create(path: &Path) -> Result<Self> {
        if let Ok(m) = std::fs::metadata(path) {
            if m.is_dir() {
                bail!("{}: is a directory", path.display());
            }
            if !m.is_file() {
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("{}: cannot open", path.display()))?;
                return Ok(Staged {
                    path: path.to_path_buf(),
                    tmp: None,
                    file,
                });
            }
        }
        let name = path
            .file_name()
            .with_context(|| format!("{}: not a file name", path.display()))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut n = 0u32;
        loop {
            let tmp = dir.join(format!(
                ".{}.ftptrace-{}-{n}.tmp",
                name.to_string_lossy(),
                std::process::id()
            ));
            match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(file) => {
                    return Ok(Staged {
                        path: path.to_path_buf(),
                        tmp: Some(tmp),
                        file,
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(e) => {
                    return Err(e).with_context(|| format!("{}: cannot create", path.display()))
                }
            }
        }
    }

    /// Write `path` itself as the run goes (live capture: a reader follows the file while
    /// `sniff` runs, so it cannot wait for a rename at the end). Never through a link.
    pub fn direct(path: &Path) -> Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            bail!("{}: is a directory", path.display());
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .with_context(|| {
                format!(
                    "{}: cannot create (never written through a link)",
                    path.display()
                )
            })?;
        Ok(Staged {
            path: path.to_path_buf(),
            tmp: None,
            file,
        })
    }

    /// A handle to write the report through.
    pub fn file(&self) -> Result<File> {
        self.file
            .try_clone()
            .with_context(|| format!("{}: cannot write", self.path.display()))
    }

    /// Put the finished report in place (a link at `path` is replaced, never written through).
    pub fn commit(mut self) -> Result<()> {
        let Some(tmp) = self.tmp.take() else {
            return Ok(());
        };
        let r = self
            .file
            .sync_data()
            .and_then(|_| std::fs::rename(&tmp, &self.path));
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        r.with_context(|| format!("{}: cannot write", self.path.display()))
    }

    /// Nothing worth writing: leave `path` as it was.
    pub fn abandon(mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
