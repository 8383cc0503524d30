//! Helpers shared by the fuzz targets.
//!
//! # The multi-file input format
//!
//! Targets that need several inputs (a topology file and the certificates and CRLs it names; later
//! a profile and its files) read the fuzzer's bytes as a small archive of named files, in the
//! layout `head` prints for several files:
//!
//! ```text
//! ==> topology.toml <==
//! revocation = "crl"
//! ...
//! ==> enterprise-ca.pem <==
//! -----BEGIN CERTIFICATE-----
//! ...
//! ```
//!
//! A file starts with a header line `==> NAME <==` at the start of the input or right after a
//! newline; its content is every byte after the header line up to the newline that precedes the
//! next header (that newline belongs to the separator), or to the end of the input. Bytes before
//! the first header are ignored, and so is a header whose name is not UTF-8. Contents are raw
//! bytes, so a DER file goes in as is: a seed is built with `printf` and `cat` (see
//! `scripts/fuzz.sh seeds`), and a mutation of one file leaves the others intact.

/// The start of a header line.
pub const HEAD: &[u8] = b"==> ";
/// The end of a header line.
pub const TAIL: &[u8] = b" <==\n";

/// One file of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct File<'a> {
    /// Its name, as written in the header.
    pub name: &'a str,
    /// Its content.
    pub content: &'a [u8],
}

/// The files of `data`, in order (see the module docs).
pub fn split_files(data: &[u8]) -> Vec<File<'_>> {
    let mut starts = Vec::new();
    if data.starts_with(HEAD) {
        starts.push(0);
    }
    let mut i = 0;
    while let Some(at) = find(&data[i..], b"\n==> ") {
        starts.push(i + at + 1);
        i += at + 1;
    }
    let mut files = Vec::with_capacity(starts.len());
    for (k, &start) in starts.iter().enumerate() {
        // The record runs to the newline before the next header, or to the end.
        let end = starts.get(k + 1).map_or(data.len(), |&next| next - 1);
        // The header line's newline may be the separator itself (an empty file written as
        // `==> a <==` right before the next header): look for it one byte further.
        let name_start = start + HEAD.len();
        let header = &data[name_start.min(end)..(end + 1).min(data.len())];
        let Some(at) = find(header, TAIL) else {
            continue;
        };
        let Ok(name) = std::str::from_utf8(&header[..at]) else {
            continue;
        };
        if name.contains('\n') {
            continue;
        }
        let content_start = (name_start + at + TAIL.len()).min(end);
        files.push(File {
            name,
            content: &data[content_start..end],
        });
    }
    files
}

/// Builds an input of these files (what [`split_files`] reads back).
pub fn join_files(files: &[File<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(HEAD);
        out.extend_from_slice(f.name.as_bytes());
        out.extend_from_slice(TAIL);
        out.extend_from_slice(f.content);
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_what_join_writes_and_ignores_junk() {
        let files = [
            File {
                name: "topology.toml",
                content: b"a = 1\n",
            },
            File {
                name: "ca.der",
                content: b"\x30\x03\x02\x01\x0a",
            },
            File {
                name: "empty",
                content: b"",
            },
        ];
        let data = join_files(&files);
        assert_eq!(split_files(&data), files);
        let mut junk = b"preamble\n".to_vec();
        junk.extend_from_slice(&data);
        assert_eq!(split_files(&junk), files);
        assert_eq!(split_files(b"==> x"), []);
        assert_eq!(
            split_files(b"==> a <==\n==> b <==\n"),
            [
                File {
                    name: "a",
                    content: b""
                },
                File {
                    name: "b",
                    content: b""
                }
            ]
        );
        assert_eq!(split_files(b""), []);
    }
}
