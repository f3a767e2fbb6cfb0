//! The built site (cargo-leptos' output): where it is, whether its code carries content
//! hashes in its names, and how long a browser may keep each file.
//!
//! A release build (`LEPTOS_HASH_FILES=true cargo leptos build --release -P`) names the hydrate
//! bundle and the stylesheet after their content (`pkg/sigmic.<hash>.wasm`) and writes the
//! hashes to `hash.txt` next to the server binary; it also writes a `.br` and a `.gz` beside
//! every file, which [`static_files`] sends to browsers that take them. A name that changes
//! with its content can be cached for good; every other file is checked again on each visit
//! (an unchanged file costs a `304`, no body).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use leptos::config::{Env, LeptosOptions};

use crate::config::Config;

/// The name cargo-leptos gives the hydrate bundle (`output-name` in Cargo.toml).
const OUTPUT_NAME: &str = "sigmic";
/// The directory of the bundle inside the site root.
const PKG_DIR: &str = "pkg";
/// The file cargo-leptos writes the hashes to.
const HASH_FILE: &str = "hash.txt";

/// The site the server serves.
#[derive(Debug, Clone)]
pub struct Site {
    pub root: PathBuf,
    /// `hash.txt` of a hashed build whose files are all present.
    pub hash_file: Option<PathBuf>,
}

impl Site {
    /// Finds the site: configured, set by cargo-leptos, next to the binary, or where the build
    /// put it. The first with a `pkg` directory wins.
    pub fn locate(config: &Config) -> Self {
        let root = config.site_root.clone().unwrap_or_else(find_root);
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf));
        // Next to the binary (where cargo-leptos writes it), or in the site root (where a
        // deployment that copies only the binary and the site can keep it).
        let hash_file = exe_dir
            .into_iter()
            .map(|dir| dir.join(HASH_FILE))
            .chain([root.join(HASH_FILE)])
            .find(|file| Hashes::read(file).is_some_and(|h| h.present_in(&root)));
        if hash_file.is_none() && !has_plain_bundle(&root) {
            tracing::warn!(
                site = %root.display(),
                "the site has no hydrate bundle (pkg/{OUTPUT_NAME}.js): pages render but do not become interactive; build it with `cargo leptos build --release`"
            );
        }
        Self { root, hash_file }
    }

    /// Leptos' options for this site on `addr`. `hash_file` is absolute: Leptos joins it to
    /// the binary's directory, which keeps an absolute path as it is.
    pub fn leptos_options(&self, addr: SocketAddr) -> LeptosOptions {
        let builder = LeptosOptions::builder()
            .output_name(OUTPUT_NAME)
            .site_root(self.root.display().to_string())
            .site_pkg_dir(PKG_DIR)
            .site_addr(addr)
            .env(match std::env::var("LEPTOS_ENV").as_deref() {
                Ok("DEV") => Env::DEV,
                _ => Env::PROD,
            });
        match &self.hash_file {
            Some(file) => builder
                .hash_files(true)
                .hash_file(file.display().to_string().into())
                .build(),
            None => builder.build(),
        }
    }
}

/// The hashes of a hashed build, from `hash.txt` (`js: …`, `wasm: …`, `css: …` lines).
#[derive(Debug, Default, PartialEq, Eq)]
struct Hashes {
    js: String,
    wasm: String,
    css: String,
}

impl Hashes {
    fn read(file: &Path) -> Option<Self> {
        Self::parse(&std::fs::read_to_string(file).ok()?)
    }

    fn parse(text: &str) -> Option<Self> {
        let mut hashes = Self::default();
        for (name, hash) in text.lines().filter_map(|l| l.split_once(':')) {
            let hash = hash.trim().to_owned();
            match name.trim() {
                "js" => hashes.js = hash,
                "wasm" => hashes.wasm = hash,
                "css" => hashes.css = hash,
                _ => {}
            }
        }
        [&hashes.js, &hashes.wasm, &hashes.css]
            .iter()
            .all(|h| is_hash(h))
            .then_some(hashes)
    }

    /// Whether the files it names are in `root`: a `hash.txt` left from another build must
    /// not send browsers to files this site does not have.
    fn present_in(&self, root: &Path) -> bool {
        let pkg = root.join(PKG_DIR);
        [
            format!("{OUTPUT_NAME}.{}.js", self.js),
            format!("{OUTPUT_NAME}.{}.wasm", self.wasm),
            format!("{OUTPUT_NAME}.{}.css", self.css),
        ]
        .iter()
        .all(|name| pkg.join(name).is_file())
    }
}

/// cargo-leptos' hashes: an MD5 in unpadded base64url, 22 characters. Not its placeholder
/// of 22 underscores, which names a file that changes from build to build.
fn is_hash(s: &str) -> bool {
    s.len() == 22
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && s.bytes().any(|b| b.is_ascii_alphanumeric())
}

/// The hydrate bundle of a build without hashed names.
fn has_plain_bundle(root: &Path) -> bool {
    root.join(PKG_DIR)
        .join(format!("{OUTPUT_NAME}.js"))
        .is_file()
}

fn find_root() -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(root) = std::env::var("LEPTOS_SITE_ROOT") {
        candidates.push(PathBuf::from(root));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join("site"));
        candidates.push(dir.join("../site"));
    }
    let built = PathBuf::from(option_env!("LEPTOS_SITE_ROOT").unwrap_or("target/site"));
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(&built));
    candidates.push(built);
    candidates
        .iter()
        .find(|dir| dir.join(PKG_DIR).is_dir())
        .or(candidates.last())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("site"))
}

/// How long a browser may keep a file of the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caching {
    /// Named after its content: kept for a year, never checked again.
    Immutable,
    /// A stable name (the widget's loader, the icon): checked on every use.
    Revalidate,
}

impl Caching {
    /// Static files only: pages and the API decide for themselves.
    fn of(path: &str) -> Option<Self> {
        let file = path.rsplit('/').next().unwrap_or_default();
        if path.starts_with("/pkg/") && file.split('.').any(is_hash) {
            Some(Self::Immutable)
        } else if path.starts_with("/pkg/")
            || path.starts_with("/widget/")
            || path.starts_with("/vendor/")
            || path == "/widget.js"
            || path == "/favicon.svg"
        {
            Some(Self::Revalidate)
        } else {
            None
        }
    }

    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Immutable => "public, max-age=31536000, immutable",
            Self::Revalidate => "no-cache",
        })
    }
}

/// The site's static files, each directory or file served from disk with its precompressed
/// copies and with `Last-Modified` (a browser checking again gets a `304`). What is not
/// there is a plain 404.
pub fn static_files<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    root: &Path,
) -> axum::Router<S> {
    use tower_http::services::{ServeDir, ServeFile};
    let dir = |d: &str| {
        ServeDir::new(root.join(d))
            .precompressed_br()
            .precompressed_gzip()
    };
    let file = |f: &str| {
        ServeFile::new(root.join(f))
            .precompressed_br()
            .precompressed_gzip()
    };
    router
        .nest_service("/pkg", dir(PKG_DIR))
        .nest_service("/widget", dir("widget"))
        .nest_service("/vendor", dir("vendor"))
        .route_service("/widget.js", file("widget.js"))
        .route_service("/favicon.svg", file("favicon.svg"))
}

/// Sets `Cache-Control` on the site's static files, and `Vary: Accept-Encoding`: the same
/// name is sent brotli, gzip or as it is, and a shared cache must not mix them up.
pub async fn cache_control(req: Request, next: Next) -> Response {
    let caching = matches!(*req.method(), Method::GET | Method::HEAD)
        .then(|| Caching::of(req.uri().path()))
        .flatten();
    let mut resp = next.run(req).await;
    if let Some(caching) = caching
        && (resp.status().is_success() || resp.status() == axum::http::StatusCode::NOT_MODIFIED)
    {
        let headers = resp.headers_mut();
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(caching.header());
        if !headers.contains_key(header::VARY) {
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH_TXT: &str =
        "js: pOy5sK-OQRd8lbwxZGeLEw\nwasm: 1fmyoXWnXCqDEhbSyL3kXQ\ncss: m7RHvWXZb9BNnkJVkmWNBg\n";

    #[test]
    fn hash_files_are_read_and_checked_against_the_site() -> Result<(), std::io::Error> {
        let hashes = Hashes::parse(HASH_TXT);
        assert_eq!(
            hashes.as_ref().map(|h| h.wasm.as_str()),
            Some("1fmyoXWnXCqDEhbSyL3kXQ")
        );
        assert_eq!(Hashes::parse("js: short\nwasm: x\ncss: y"), None);
        assert!(
            !is_hash("______________________"),
            "cargo-leptos' placeholder"
        );

        let root = tempfile::tempdir()?;
        let pkg = root.path().join(PKG_DIR);
        std::fs::create_dir_all(&pkg)?;
        let Some(hashes) = hashes else {
            return Err(std::io::Error::other("hash.txt did not parse"));
        };
        assert!(!hashes.present_in(root.path()), "no files yet");
        for (ext, hash) in [
            ("js", &hashes.js),
            ("wasm", &hashes.wasm),
            ("css", &hashes.css),
        ] {
            std::fs::write(pkg.join(format!("sigmic.{hash}.{ext}")), b"x")?;
        }
        assert!(hashes.present_in(root.path()));
        Ok(())
    }

    #[test]
    fn only_content_named_files_are_kept_for_good() {
        assert_eq!(
            Caching::of("/pkg/sigmic.1fmyoXWnXCqDEhbSyL3kXQ.wasm"),
            Some(Caching::Immutable)
        );
        assert_eq!(Caching::of("/pkg/sigmic.wasm"), Some(Caching::Revalidate));
        assert_eq!(Caching::of("/widget.js"), Some(Caching::Revalidate));
        assert_eq!(
            Caching::of("/widget/sigmic_widget_bg.wasm"),
            Some(Caching::Revalidate)
        );
        assert_eq!(Caching::of("/p/abc/c/def"), None);
        assert_eq!(Caching::of("/api/v1/me"), None);
    }
}
