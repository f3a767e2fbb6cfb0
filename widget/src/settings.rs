//! `window.sigmicSettings`, as the loader hands it over: the token, the server, the page's
//! way to get a fresh token, and the look the page wants over the widget app's own.

use std::rc::Rc;

use chat::client::{Refresh, TokenFuture};
use js_sys::{Function, Promise, Reflect};
use protocol::widget::{LauncherPosition, WidgetLook, WidgetTheme};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub struct Settings {
    pub token: String,
    /// The Sigmic server's origin.
    pub api_url: String,
    pub get_token: Option<Function>,
    pub look: LookOverrides,
}

/// What the page set of the look; the rest comes from the widget app.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LookOverrides {
    pub title: Option<String>,
    pub greeting: Option<String>,
    pub accent_color: Option<String>,
    pub theme: Option<WidgetTheme>,
    pub position: Option<LauncherPosition>,
    pub suggestions: Option<Vec<String>>,
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn text(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string().filter(|s| !s.trim().is_empty())
}

impl Settings {
    pub fn read(settings: &JsValue) -> Self {
        let suggestions = get(settings, "suggestions");
        let suggestions = js_sys::Array::is_array(&suggestions).then(|| {
            js_sys::Array::from(&suggestions)
                .iter()
                .filter_map(|s| s.as_string())
                .filter(|s| !s.trim().is_empty())
                .take(4)
                .collect()
        });
        Self {
            token: text(settings, "token").unwrap_or_default(),
            api_url: text(settings, "apiUrl")
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned(),
            get_token: get(settings, "getToken").dyn_into::<Function>().ok(),
            look: LookOverrides {
                title: text(settings, "title"),
                greeting: text(settings, "greeting"),
                accent_color: text(settings, "accentColor").filter(|c| is_hex_color(c)),
                theme: text(settings, "theme").and_then(|t| match t.as_str() {
                    "light" => Some(WidgetTheme::Light),
                    "dark" => Some(WidgetTheme::Dark),
                    "auto" => Some(WidgetTheme::Auto),
                    _ => None,
                }),
                position: text(settings, "position").and_then(|p| match p.as_str() {
                    "bottom-right" => Some(LauncherPosition::BottomRight),
                    "bottom-left" => Some(LauncherPosition::BottomLeft),
                    _ => None,
                }),
                suggestions,
            },
        }
    }

    /// Asks the page's `getToken()` (a string, or a promise of one) for a fresh token.
    pub fn refresh(&self) -> Option<Refresh> {
        let get_token = self.get_token.clone()?;
        Some(Rc::new(move || -> TokenFuture {
            let get_token = get_token.clone();
            Box::pin(async move {
                let answer = get_token.call0(&JsValue::NULL).ok()?;
                // `resolve` takes a plain value and a promise (or any thenable) alike.
                let token = JsFuture::from(Promise::resolve(&answer)).await.ok()?;
                token.as_string().filter(|t| !t.trim().is_empty())
            })
        }))
    }
}

impl LookOverrides {
    /// The widget app's look with the page's choices over it.
    pub fn apply(&self, mut look: WidgetLook) -> WidgetLook {
        if let Some(t) = &self.title {
            look.title.clone_from(t);
        }
        if let Some(g) = &self.greeting {
            look.greeting.clone_from(g);
        }
        if let Some(c) = &self.accent_color {
            look.accent_color.clone_from(c);
        }
        if let Some(t) = self.theme {
            look.theme = t;
        }
        if let Some(p) = self.position {
            look.position = p;
        }
        if let Some(s) = &self.suggestions {
            look.suggestions.clone_from(s);
        }
        look
    }
}

/// `#rrggbb` (or `#rgb`): the only colours let into the stylesheet's custom property, so a
/// page's setting cannot smuggle other CSS in.
pub fn is_hex_color(c: &str) -> bool {
    let Some(hex) = c.strip_prefix('#') else {
        return false;
    };
    matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Black or white, whichever reads better on the accent colour (WCAG relative luminance).
pub fn on_accent(accent: &str) -> &'static str {
    let hex = accent.trim_start_matches('#');
    let channel = |i: usize| -> f64 {
        let v = if hex.len() == 3 {
            hex.get(i..=i)
                .and_then(|d| u8::from_str_radix(&d.repeat(2), 16).ok())
        } else {
            hex.get(2 * i..2 * i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
        };
        let c = f64::from(v.unwrap_or(0)) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
    // Contrast with white is (1.05)/(l+0.05), with black (l+0.05)/0.05: equal at l ≈ 0.179.
    if l > 0.179 { "#000000" } else { "#ffffff" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours() {
        assert!(is_hex_color("#4f46e5"));
        assert!(is_hex_color("#FFF"));
        assert!(!is_hex_color("red"));
        assert!(!is_hex_color("#12345g"));
        assert!(!is_hex_color("#fff;background:url(x)"));
    }

    #[test]
    fn text_on_the_accent() {
        assert_eq!(on_accent("#4f46e5"), "#ffffff");
        assert_eq!(on_accent("#facc15"), "#000000");
        assert_eq!(on_accent("#fff"), "#000000");
        assert_eq!(on_accent("#000"), "#ffffff");
    }

    #[test]
    fn the_page_wins_where_it_chose() {
        let over = LookOverrides {
            title: Some("Help".into()),
            theme: Some(WidgetTheme::Dark),
            ..Default::default()
        };
        let look = over.apply(WidgetLook {
            greeting: "Hello".into(),
            ..Default::default()
        });
        assert_eq!(look.title, "Help");
        assert_eq!(look.greeting, "Hello");
        assert_eq!(look.theme, WidgetTheme::Dark);
        assert_eq!(look.position, LauncherPosition::BottomRight);
    }
}
