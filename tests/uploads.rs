//! Uploads into `uploads/` of a workspace: plain files and folders, zip extraction, and every
//! refusal — the file past the count limit, an oversize file, zip-slip, absolute paths,
//! symlink and special entries, encrypted entries, zip bombs by entry count and by extracted
//! size — each with its API error code and nothing left behind in the workspace or staging.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Write};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::stream;
use sigmic::config::UploadsConfig;
use sigmic::error::ErrorCode;
use sigmic::workspace::{UploadError, UploadedFile, Workspace};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

struct Env {
    _tmp: tempfile::TempDir,
    ws_dir: PathBuf,
    staging: PathBuf,
    ws: Workspace,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let ws_dir = tmp.path().join("workspaces/task");
    std::fs::create_dir_all(&ws_dir).unwrap();
    std::fs::write(ws_dir.join("existing.txt"), "keep me").unwrap();
    let ws = Workspace::open(&ws_dir).unwrap();
    Env {
        staging: tmp.path().join("workspaces/.staging"),
        _tmp: tmp,
        ws_dir,
        ws,
    }
}

fn limits() -> UploadsConfig {
    UploadsConfig::default()
}

/// Every path under `dir`, relative, sorted (symlinks not followed).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

impl Env {
    /// The workspace holds only what it held before, and staging holds nothing.
    fn nothing_left(&self) {
        assert_eq!(tree(&self.ws_dir), ["existing.txt"], "workspace changed");
        assert_eq!(
            tree(&self.staging),
            Vec::<String>::new(),
            "staging not cleaned"
        );
    }
}

fn chunks(
    data: &[u8],
    size: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + use<> {
    let parts: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(size.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(parts)
}

async fn upload(
    ws: &Workspace,
    limits: &UploadsConfig,
    files: &[(&str, &[u8])],
) -> Result<Vec<UploadedFile>, UploadError> {
    let mut batch = ws.begin_upload(limits)?;
    for (name, data) in files {
        batch.add(name, chunks(data, 1000)).await?;
    }
    batch.commit().await
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, data) in entries {
        if name.ends_with('/') {
            w.add_directory(*name, opts).unwrap();
        } else {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

fn assert_refused(err: &UploadError, code: ErrorCode, needle: &str) {
    let api = err.to_api_error();
    assert_eq!(api.code, code, "{err}");
    assert!(
        api.message.contains(needle),
        "expected `{needle}` in: {}",
        api.message
    );
    assert!(api.fields.contains_key("files"), "{api:?}");
}

#[tokio::test]
async fn files_land_in_uploads_keeping_folders() {
    let e = env();
    let placed = upload(
        &e.ws,
        &limits(),
        &[
            ("a.txt", b"alpha"),
            ("photos/b.jpg", b"jpeg"),
            ("big.bin", &vec![7u8; 250_000]),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        placed,
        [
            UploadedFile {
                name: "a.txt".into(),
                path: "uploads/a.txt".into(),
                size: 5
            },
            UploadedFile {
                name: "big.bin".into(),
                path: "uploads/big.bin".into(),
                size: 250_000
            },
            UploadedFile {
                name: "b.jpg".into(),
                path: "uploads/photos/b.jpg".into(),
                size: 4
            },
        ]
    );
    assert_eq!(
        std::fs::read(e.ws_dir.join("uploads/a.txt")).unwrap(),
        b"alpha"
    );
    assert_eq!(
        std::fs::read(e.ws_dir.join("uploads/big.bin"))
            .unwrap()
            .len(),
        250_000
    );
    assert_eq!(tree(&e.staging), Vec::<String>::new());

    // A second upload replaces a file of the same name and merges folders.
    upload(
        &e.ws,
        &limits(),
        &[("a.txt", b"again"), ("photos/c.jpg", b"c")],
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(e.ws_dir.join("uploads/a.txt")).unwrap(),
        b"again"
    );
    assert!(e.ws_dir.join("uploads/photos/b.jpg").exists());
    assert!(e.ws_dir.join("uploads/photos/c.jpg").exists());
    assert_eq!(tree(&e.staging), Vec::<String>::new());
}

#[tokio::test]
async fn a_zip_is_extracted_into_uploads_keeping_its_folders() {
    let e = env();
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    w.add_directory("project/", opts).unwrap();
    w.start_file("project/src/main.py", opts).unwrap();
    w.write_all(b"print('hi')\n").unwrap();
    w.start_file("project/run.sh", opts.unix_permissions(0o755))
        .unwrap();
    w.write_all(b"#!/bin/sh\n").unwrap();
    w.start_file(
        "stored.txt",
        opts.compression_method(CompressionMethod::Stored),
    )
    .unwrap();
    w.write_all(b"plain").unwrap();
    let archive = w.finish().unwrap().into_inner();

    let placed = upload(
        &e.ws,
        &limits(),
        &[("Data.ZIP", &archive), ("note.md", b"n")],
    )
    .await
    .unwrap();
    let paths: Vec<&str> = placed.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "uploads/note.md",
            "uploads/project/run.sh",
            "uploads/project/src/main.py",
            "uploads/stored.txt"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(e.ws_dir.join("uploads/project/src/main.py")).unwrap(),
        "print('hi')\n"
    );
    let mode = std::fs::metadata(e.ws_dir.join("uploads/project/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "executable bit kept");
    let mode = std::fs::metadata(e.ws_dir.join("uploads/stored.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o644);
    assert!(
        !e.ws_dir.join("uploads/Data.ZIP").exists(),
        "the archive itself is not kept"
    );
    assert_eq!(tree(&e.staging), Vec::<String>::new());
}

#[tokio::test]
async fn the_file_past_the_count_limit_is_refused() {
    let e = env();
    let names: Vec<String> = (1..=21).map(|i| format!("f{i}.txt")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let err = upload(&e.ws, &limits(), &files).await.unwrap_err();
    assert!(
        matches!(
            err,
            UploadError::TooManyFiles {
                number: 21,
                limit: 20,
                ..
            }
        ),
        "{err}"
    );
    assert_refused(&err, ErrorCode::ValidationError, "At most 20 files");
    assert!(err.to_string().contains("`f21.txt`"));
    e.nothing_left();

    // Twenty are fine.
    upload(&e.ws, &limits(), &files[..20]).await.unwrap();
    assert_eq!(
        std::fs::read_dir(e.ws_dir.join("uploads")).unwrap().count(),
        20
    );
}

#[tokio::test]
async fn an_oversize_file_is_refused() {
    let e = env();
    let small = UploadsConfig {
        max_file_bytes: 10_000,
        ..limits()
    };
    let err = upload(
        &e.ws,
        &small,
        &[("ok.txt", b"fine"), ("huge.bin", &vec![0u8; 10_001])],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, UploadError::FileTooLarge { .. }), "{err}");
    assert_refused(
        &err,
        ErrorCode::PayloadTooLarge,
        "`huge.bin` is larger than the limit of 10000 bytes",
    );
    e.nothing_left();
    // Exactly at the limit is fine; the default limit is named in megabytes.
    upload(&e.ws, &small, &[("edge.bin", &vec![0u8; 10_000])])
        .await
        .unwrap();
    let err = UploadError::FileTooLarge {
        name: "x".into(),
        limit: limits().max_file_bytes,
    };
    assert!(err.to_string().contains("50 MB"), "{err}");
}

#[tokio::test]
async fn bad_file_names_are_refused() {
    let e = env();
    for name in ["../escape.txt", "/etc/cron.d/evil", "a/../../b", "", "."] {
        let err = upload(&e.ws, &limits(), &[(name, b"x")]).await.unwrap_err();
        assert_refused(
            &err,
            ErrorCode::ValidationError,
            "not an acceptable file name",
        );
        e.nothing_left();
    }
    let err = upload(&e.ws, &limits(), &[("same.txt", b"1"), ("same.txt", b"2")])
        .await
        .unwrap_err();
    assert_refused(&err, ErrorCode::ValidationError, "appears twice");
    e.nothing_left();
}

#[tokio::test]
async fn zip_slip_and_absolute_entries_are_refused() {
    for evil in [
        "../../evil.sh",
        "ok/../../evil.sh",
        "/etc/cron.d/evil",
        "a/./../../x",
        "a/../b",
        "C:/evil",
        "\\\\server\\share\\x",
    ] {
        let e = env();
        let archive = zip_of(&[("fine.txt", b"ok"), (evil, b"pwned")]);
        let err = upload(
            &e.ws,
            &limits(),
            &[("first.txt", b"1"), ("a.zip", &archive)],
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, UploadError::ZipEscape { .. }),
            "{evil}: {err}"
        );
        assert_refused(&err, ErrorCode::ValidationError, "leads outside the folder");
        e.nothing_left();
        let parent = e.ws_dir.parent().unwrap();
        assert_eq!(
            tree(parent),
            [".staging", "task", "task/existing.txt"],
            "{evil}: nothing beside the workspace but the (empty) staging folder"
        );
    }
}

#[tokio::test]
async fn symlink_entries_are_refused() {
    let e = env();
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default();
    w.start_file("readme.txt", opts).unwrap();
    w.write_all(b"hi").unwrap();
    w.add_symlink("shadow", "/etc/shadow", opts).unwrap();
    let archive = w.finish().unwrap().into_inner();
    let err = upload(&e.ws, &limits(), &[("links.zip", &archive)])
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::ZipLink { .. }), "{err}");
    assert_refused(&err, ErrorCode::ValidationError, "symbolic link `shadow`");
    e.nothing_left();
}

#[tokio::test]
async fn special_file_entries_are_refused() {
    let e = env();
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    // A FIFO (S_IFIFO) as its Unix mode says.
    w.start_file(
        "pipe",
        SimpleFileOptions::default().external_attributes(0o010_644 << 16),
    )
    .unwrap();
    let archive = w.finish().unwrap().into_inner();
    let err = upload(&e.ws, &limits(), &[("special.zip", &archive)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UploadError::ZipSpecial { .. } | UploadError::ZipLink { .. }
        ),
        "{err}"
    );
    assert_refused(&err, ErrorCode::ValidationError, "`pipe`");
    e.nothing_left();
}

/// Sets the "encrypted" bit (general purpose flag bit 0) of every entry, in the local headers
/// and the central directory, as an encrypting archiver would.
fn mark_encrypted(mut archive: Vec<u8>) -> Vec<u8> {
    let mut i = 0;
    while i + 10 < archive.len() {
        match &archive[i..i + 4] {
            [b'P', b'K', 3, 4] => archive[i + 6] |= 1,
            [b'P', b'K', 1, 2] => archive[i + 8] |= 1,
            _ => {}
        }
        i += 1;
    }
    archive
}

#[tokio::test]
async fn encrypted_entries_are_refused() {
    let e = env();
    let archive = mark_encrypted(zip_of(&[("secret.txt", b"hidden")]));
    let err = upload(&e.ws, &limits(), &[("locked.zip", &archive)])
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::ZipEncrypted { .. }), "{err}");
    assert_refused(
        &err,
        ErrorCode::ValidationError,
        "encrypted entry `secret.txt`",
    );
    e.nothing_left();
}

#[tokio::test]
async fn a_zip_bomb_by_entry_count_is_refused() {
    let e = env();
    let few = UploadsConfig {
        max_zip_entries: 5,
        ..limits()
    };
    let names: Vec<String> = (0..6).map(|i| format!("f{i}")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let err = upload(&e.ws, &few, &[("many.zip", &zip_of(&entries))])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UploadError::ZipTooManyEntries {
                entries: 6,
                limit: 5,
                ..
            }
        ),
        "{err}"
    );
    assert_refused(&err, ErrorCode::ValidationError, "at most 5 are extracted");
    e.nothing_left();
    upload(&e.ws, &few, &[("five.zip", &zip_of(&entries[..5]))])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_zip_bomb_by_extracted_size_is_refused() {
    let e = env();
    let small = UploadsConfig {
        max_extracted_bytes: 1024 * 1024,
        ..limits()
    };
    // 3 MB of zeros compress to a few KB.
    let zeros = vec![0u8; 3 * 1024 * 1024];
    let bomb = zip_of(&[("a.bin", &zeros[..512 * 1024]), ("b.bin", &zeros)]);
    assert!(bomb.len() < 50_000);
    let err = upload(&e.ws, &small, &[("bomb.zip", &bomb)])
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::ZipTooLarge { .. }), "{err}");
    assert_refused(
        &err,
        ErrorCode::PayloadTooLarge,
        "extracts to more than 1 MB",
    );
    e.nothing_left();
}

/// The sizes an archive declares are not trusted: an entry whose header claims 10 bytes but
/// inflates to megabytes still hits the budget (or is refused as corrupt), never the disk.
#[tokio::test]
async fn declared_sizes_are_not_trusted() {
    let e = env();
    let small = UploadsConfig {
        max_extracted_bytes: 64 * 1024,
        ..limits()
    };
    let mut archive = zip_of(&[("liar.bin", &vec![0u8; 1024 * 1024])]);
    // Rewrite the uncompressed size (local header +22, central header +24) to 10 bytes.
    let mut i = 0;
    while i + 30 < archive.len() {
        match &archive[i..i + 4] {
            [b'P', b'K', 3, 4] => archive[i + 22..i + 26].copy_from_slice(&10u32.to_le_bytes()),
            [b'P', b'K', 1, 2] => archive[i + 24..i + 28].copy_from_slice(&10u32.to_le_bytes()),
            _ => {}
        }
        i += 1;
    }
    let err = upload(&e.ws, &small, &[("liar.zip", &archive)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UploadError::ZipTooLarge { .. } | UploadError::ZipInvalid { .. }
        ),
        "{err}"
    );
    e.nothing_left();
}

#[tokio::test]
async fn a_broken_zip_is_refused() {
    let e = env();
    let err = upload(
        &e.ws,
        &limits(),
        &[("notes.txt", b"n"), ("fake.zip", b"this is not a zip")],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, UploadError::ZipInvalid { .. }), "{err}");
    assert_refused(
        &err,
        ErrorCode::ValidationError,
        "not a readable zip archive",
    );
    e.nothing_left();
}

#[tokio::test]
async fn an_interrupted_stream_leaves_nothing() {
    let e = env();
    let mut batch = e.ws.begin_upload(&limits()).unwrap();
    batch.add("ok.txt", chunks(b"fine", 10)).await.unwrap();
    let broken = stream::iter(vec![
        Ok(Bytes::from_static(b"partial")),
        Err(std::io::Error::other("connection reset")),
    ]);
    let err = batch.add("cut.bin", broken).await.unwrap_err();
    assert!(
        err.to_string().contains("interrupted: connection reset"),
        "{err}"
    );
    assert_eq!(err.to_api_error().code, ErrorCode::ValidationError);
    e.nothing_left();
    assert!(matches!(
        batch.commit().await.unwrap_err(),
        UploadError::Aborted
    ));
    e.nothing_left();
}

#[tokio::test]
async fn a_batch_dropped_without_commit_leaves_nothing() {
    let e = env();
    let mut batch = e.ws.begin_upload(&limits()).unwrap();
    batch.add("a.txt", chunks(b"a", 1)).await.unwrap();
    batch
        .add("b.zip", chunks(&zip_of(&[("c/d.txt", b"d")]), 7))
        .await
        .unwrap();
    assert!(!tree(&e.staging).is_empty());
    drop(batch);
    e.nothing_left();
}

#[tokio::test]
async fn collisions_with_the_workspace_are_found_before_anything_moves() {
    let e = env();
    std::fs::create_dir_all(e.ws_dir.join("uploads")).unwrap();
    std::fs::write(e.ws_dir.join("uploads/report"), "a file").unwrap();
    let err = upload(
        &e.ws,
        &limits(),
        &[("aaa.txt", b"1"), ("report/page.txt", b"2")],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, UploadError::Conflict { .. }), "{err}");
    assert_refused(&err, ErrorCode::ValidationError, "uploads/report");
    assert_eq!(tree(&e.ws_dir.join("uploads")), ["report"], "nothing moved");
    assert_eq!(tree(&e.staging), Vec::<String>::new());

    // Inside one upload: a file and a zip folder of the same name.
    let archive = zip_of(&[("x/y.txt", b"y")]);
    let err = upload(&e.ws, &limits(), &[("x", b"file"), ("z.zip", &archive)])
        .await
        .unwrap_err();
    assert_refused(&err, ErrorCode::ValidationError, "`x/y.txt`");
    assert_eq!(tree(&e.staging), Vec::<String>::new());
}

#[tokio::test]
async fn an_uploads_link_leading_outside_is_refused() {
    let e = env();
    let outside = e.ws_dir.parent().unwrap().parent().unwrap().join("host");
    std::fs::create_dir_all(&outside).unwrap();
    symlink(&outside, e.ws_dir.join("uploads")).unwrap();
    let err = upload(&e.ws, &limits(), &[("a.txt", b"x")])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("leads outside /workspace"),
        "{err}"
    );
    assert_eq!(err.to_api_error().code, ErrorCode::ValidationError);
    assert_eq!(
        tree(&outside),
        Vec::<String>::new(),
        "nothing written outside"
    );
    assert_eq!(tree(&e.staging), Vec::<String>::new());
}

/// Many archives in one upload share one allowance: two that each fit it alone do not fit
/// together.
#[tokio::test]
async fn the_archives_of_one_upload_share_one_allowance() {
    let e = env();
    let small = UploadsConfig {
        max_extracted_bytes: 1024 * 1024,
        max_zip_entries: 6,
        ..limits()
    };
    let zeros = vec![0u8; 600 * 1024];
    let half = zip_of(&[("a.bin", &zeros)]);
    let other = zip_of(&[("b.bin", &zeros)]);
    upload(&e.ws, &small, &[("one.zip", &half)]).await.unwrap();
    let e = env();
    let err = upload(&e.ws, &small, &[("one.zip", &half), ("two.zip", &other)])
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::ZipTooLarge { .. }), "{err}");
    assert_refused(
        &err,
        ErrorCode::PayloadTooLarge,
        "extracts to more than 1 MB with the archives before it",
    );
    e.nothing_left();

    // Entries too.
    let e = env();
    let names: Vec<String> = (0..4).map(|i| format!("f{i}")).collect();
    let four: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let err = upload(
        &e.ws,
        &small,
        &[("a.zip", &zip_of(&four)), ("b.zip", &zip_of(&four))],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, UploadError::ZipTooManyEntries { limit: 6, .. }),
        "{err}"
    );
    e.nothing_left();
}
