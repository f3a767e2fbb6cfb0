//! Reading a workspace file from the host side (`read_file`) holds a bounded amount of it in
//! memory, however long its lines. A test binary of its own, so the peak memory it measures
//! is this test's alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use sigmic::workspace::{ReadOutcome, Workspace};

/// The process's peak resident memory so far, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn a_file_of_one_huge_line_is_read_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ws");
    std::fs::create_dir_all(&dir).unwrap();
    let mut file = std::fs::File::create(dir.join("huge.txt")).unwrap();
    let chunk = vec![b'a'; 1024 * 1024];
    for _ in 0..256 {
        file.write_all(&chunk).unwrap();
    }
    file.write_all(b"\nsecond line\n").unwrap();
    drop(file);

    let before = peak_rss_kib();
    let ws = Workspace::open(&dir).unwrap();
    let ReadOutcome::Text(slice) = ws.read_text("huge.txt", None, None).unwrap() else {
        panic!("read as text");
    };
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(slice.lines_cut);
    assert_eq!(slice.total_lines, 2);
    assert!(
        slice.content.ends_with("second line\n"),
        "{}",
        &slice.content[slice.content.len() - 40..]
    );
    assert!(slice.content.len() < 10_000, "{}", slice.content.len());
    // A 256 MB line: held whole, it would take at least that much.
    assert!(
        grown < 32 * 1024,
        "reading grew the peak memory by {grown} KiB"
    );
}
