//! Files that hold people's records, created readable by their owner only.
//!
//! Rules:
//! * Files are created mode 0600 and folders 0700 (on Unix); a file opened
//!   to be rewritten that existed with a wider mode is narrowed to 0600.
//! * Used for the SQLite store, rejects files, alerts, bundles and keys:
//!   one place, so no writer of personal data forgets the mode.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::path::Path;

/// How a private file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// Created; an error if it exists.
    New,
    /// Created, or emptied if it exists.
    Truncate,
}

/// Creates `dir` and its missing parents, each new one 0700.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut b = DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Opens `path` for writing, readable by its owner only (see [`Open`]).
pub fn open(path: &Path, how: Open) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true);
    match how {
        Open::New => opts.create_new(true),
        Open::Truncate => opts.create(true).truncate(true),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let f = opts.open(path)?;
    #[cfg(unix)]
    if how == Open::Truncate {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_and_folders_are_the_owners_only() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("a/b");
        create_dir(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let f = dir.join("x");
        open(&f, Open::New).unwrap();
        assert_eq!(mode(&f), 0o600);
        assert!(open(&f, Open::New).is_err());
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        open(&f, Open::Truncate).unwrap();
        assert_eq!(mode(&f), 0o600);
    }
}
