//! Reading files that come from outside (replays, desync bundles, `--ice-config`, test
//! corpora), bounded: every read has a size cap chosen from what a real file of its kind can
//! hold, and only regular files are read.
//!
//! A FIFO, a device (`/dev/zero`), a socket or a directory is refused before a byte is read.
//! On Unix the file is opened with `O_NONBLOCK`, so opening a FIFO with no writer returns at
//! once instead of waiting for one, and the type is checked on the opened handle (`fstat`), not
//! on the path, so a path swapped for another kind of file between a check and the open cannot
//! slip through. A file larger than its cap is refused by its size before reading; one that
//! grows (or claims no size, as `/proc` files do) is cut off at the cap with the same error.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sim::rules::{MAX_CREEPS, MAX_TOWERS};

/// What a file is, for messages, and the most bytes a real one holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// What the file is ("a replay", "a state file").
    pub what: &'static str,
    /// Its name in the code, so a message names the cap.
    pub name: &'static str,
    /// Bytes at most.
    pub max: u64,
}

/// The largest canonical state encoding (`sim::Snapshot::encode`): magic, globals, the creep
/// count and `MAX_CREEPS` creeps, the tower count and `MAX_TOWERS` towers: 2,415,472 bytes.
pub const STATE_FILE_MAX: u64 = 8
    + std::mem::size_of::<sim::Globals>() as u64
    + 4
    + MAX_CREEPS as u64 * std::mem::size_of::<sim::Creep>() as u64
    + 4
    + MAX_TOWERS as u64 * std::mem::size_of::<sim::Tower>() as u64;

/// A replay file: 1 GiB. The longest match `hltd` plays (1,000,000 frames, the limit of
/// `--frames`) costs at most 50 bytes a frame (a 32-byte hash, 17 bytes of inputs when all four
/// seats change every frame, and the framing of a chunk every 60 frames), 50 MB, plus a
/// keyframe every 600 frames (a few KB in the standard scenario); a keyframe of the largest
/// swarm is `STATE_FILE_MAX`, so the cap also holds a `MAX_CREEPS` swarm recorded for 400
/// keyframes (66 minutes at hltd's interval).
pub const REPLAY_FILE_MAX: u64 = 1 << 30;

/// `bundle.json`: 1 MiB. A real one lists at most `EVIDENCE_HASHES` (120) hashes before the
/// verdict and those up to the newest confirmed frame, and the around files of the 240 states
/// a peer keeps: about 60 KB at most (a 3-peer bundle of hltd demo is 22 KB).
pub const BUNDLE_META_MAX: u64 = 1 << 20;

/// An `--ice-config` JSON file: 64 KiB (a handful of URLs and one credential).
pub const ICE_CONFIG_MAX: u64 = 64 << 10;

/// A replay, for [`open`] and [`read`].
pub const REPLAY: Limit = Limit {
    what: "a replay",
    name: "REPLAY_FILE_MAX",
    max: REPLAY_FILE_MAX,
};
/// A bundle's state file.
pub const STATE: Limit = Limit {
    what: "a state file",
    name: "STATE_FILE_MAX",
    max: STATE_FILE_MAX,
};
/// A bundle's `bundle.json`.
pub const BUNDLE_META: Limit = Limit {
    what: "a bundle.json",
    name: "BUNDLE_META_MAX",
    max: BUNDLE_META_MAX,
};
/// An `--ice-config` file.
pub const ICE_CONFIG: Limit = Limit {
    what: "an --ice-config file",
    name: "ICE_CONFIG_MAX",
    max: ICE_CONFIG_MAX,
};

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Opening or reading failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// Not a regular file: a FIFO, a device, a socket or a directory.
    #[error("{}: is {kind}, not a regular file ({what} must be one)", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is ("a FIFO", "a character device").
        kind: &'static str,
        /// What it should have been.
        what: &'static str,
    },
    /// Larger than its kind of file can be.
    #[error(
        "{}: {size} bytes, more than {what} can hold ({cap} is {max} bytes)",
        path.display(),
        size = size.map_or_else(|| format!("more than {max}"), |s| s.to_string())
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: &'static str,
        /// The cap's name.
        cap: &'static str,
        /// The cap.
        max: u64,
        /// Its size, when known (a file that grew or claims no size: unknown).
        size: Option<u64>,
    },
    /// Not UTF-8 (a file that should be text).
    #[error("{}: not UTF-8 text (at byte {at})", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
        /// The first byte that is not.
        at: usize,
    },
}

impl FileError {
    /// The file it is about.
    pub fn path(&self) -> &Path {
        match self {
            FileError::Io { path, .. }
            | FileError::NotRegular { path, .. }
            | FileError::TooLarge { path, .. }
            | FileError::NotText { path, .. } => path,
        }
    }
}

fn kind_name(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// A regular file being read, that fails with [`FileError::TooLarge`] (inside an
/// [`io::Error`] of kind `FileTooLarge`) past its cap.
#[derive(Debug)]
pub struct Bounded {
    file: File,
    path: PathBuf,
    limit: Limit,
    size: u64,
    read: u64,
}

impl Bounded {
    /// The file's size when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn too_large(&self, size: Option<u64>) -> FileError {
        FileError::TooLarge {
            path: self.path.clone(),
            what: self.limit.what,
            cap: self.limit.name,
            max: self.limit.max,
            size,
        }
    }
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte beyond the cap may be read, to tell a file of exactly the cap from a
        // longer one.
        let room = (self.limit.max + 1).saturating_sub(self.read);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        self.read += n as u64;
        if self.read > self.limit.max {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                self.too_large(None),
            ));
        }
        Ok(n)
    }
}

/// Opens `path` for reading if it is a regular file no larger than `limit`.
///
/// # Errors
/// [`FileError`] naming the file: it cannot be opened, is not a regular file, or is too
/// large.
pub fn open(path: &Path, limit: Limit) -> Result<Bounded, FileError> {
    let io_error = |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO with no writer would block the open; a regular file ignores the flag.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|err| {
        // Windows and WASI refuse to open a directory as a file; say what it is.
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => FileError::NotRegular {
                path: path.to_path_buf(),
                kind: kind_name(meta.file_type()),
                what: limit.what,
            },
            _ => io_error(err),
        }
    })?;
    let meta = file.metadata().map_err(io_error)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_name(meta.file_type()),
            what: limit.what,
        });
    }
    let bounded = Bounded {
        file,
        path: path.to_path_buf(),
        limit,
        size: meta.len(),
        read: 0,
    };
    if meta.len() > limit.max {
        return Err(bounded.too_large(Some(meta.len())));
    }
    Ok(bounded)
}

/// Turns an error of a [`Bounded`] read back into the [`FileError`] it carries.
pub fn read_error(path: &Path, err: io::Error) -> FileError {
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<FileError>());
    if let Some(FileError::TooLarge { what, cap, max, .. }) = inner {
        return FileError::TooLarge {
            path: path.to_path_buf(),
            what,
            cap,
            max: *max,
            size: None,
        };
    }
    FileError::Io {
        path: path.to_path_buf(),
        source: err,
    }
}

/// Reads the whole of `path`, a regular file no larger than `limit`.
///
/// # Errors
/// [`FileError`] naming the file and what is wrong.
pub fn read(path: &Path, limit: Limit) -> Result<Vec<u8>, FileError> {
    let mut file = open(path, limit)?;
    let mut bytes = Vec::with_capacity(usize::try_from(file.size()).unwrap_or(0));
    file.read_to_end(&mut bytes)
        .map_err(|err| read_error(path, err))?;
    Ok(bytes)
}

/// Reads the whole of `path` as UTF-8 text, a regular file no larger than `limit`.
///
/// # Errors
/// [`FileError`] naming the file and what is wrong.
pub fn read_to_string(path: &Path, limit: Limit) -> Result<String, FileError> {
    String::from_utf8(read(path, limit)?).map_err(|err| FileError::NotText {
        path: path.to_path_buf(),
        at: err.utf8_error().valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("replay-file-{}-{name}", std::process::id()))
    }

    #[test]
    fn the_state_cap_is_the_largest_state() {
        assert_eq!(STATE_FILE_MAX, 2_415_472);
    }

    #[test]
    fn small_files_are_read_and_larger_ones_refused_naming_the_cap() {
        let path = temp("small");
        std::fs::write(&path, b"0123456789").expect("write");
        let limit = Limit {
            what: "a test file",
            name: "TEST_MAX",
            max: 10,
        };
        assert_eq!(read(&path, limit).expect("read"), b"0123456789");
        let smaller = Limit { max: 9, ..limit };
        let err = read(&path, smaller).expect_err("too large");
        let text = err.to_string();
        assert!(
            text.contains("10 bytes, more than a test file can hold (TEST_MAX is 9 bytes)"),
            "{text}"
        );
        std::fs::write(&path, [0xff, 0xfe]).expect("write");
        assert!(matches!(
            read_to_string(&path, limit),
            Err(FileError::NotText { at: 0, .. })
        ));
        let _ = std::fs::remove_file(&path);
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_directories_are_refused() {
        let err = read(Path::new("/dev/zero"), REPLAY).expect_err("a device");
        assert!(
            err.to_string()
                .contains("is a character device, not a regular file"),
            "{err}"
        );
        let err = read(&std::env::temp_dir(), REPLAY).expect_err("a directory");
        assert!(err.to_string().contains("is a directory"), "{err}");
    }
}
