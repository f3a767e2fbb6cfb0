//! What we know about well-known models: the usual model of each provider, context windows
//! and published list prices. Unknown models (local ones above all) have neither: callers
//! fall back to configuration and show no cost.

use super::{ModelRef, ProviderKind, Usage};

/// The model used when neither the project nor the server names one.
pub fn usual_model(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Anthropic => "claude-sonnet-4-5",
        ProviderKind::OpenAi => "gpt-4.1",
        ProviderKind::Gemini => "gemini-2.5-pro",
    }
}

/// Tokens the model can take in one call (prompt and answer), if the model is known.
pub fn context_window(model: &ModelRef) -> Option<u64> {
    known(model).map(|m| m.window)
}

/// What a call cost at list prices, in US dollars, if the model is known. Cached-prompt
/// discounts are not counted: `Usage` does not carry them, so this is an upper bound.
pub fn cost_usd(model: &ModelRef, usage: Usage) -> Option<f64> {
    let m = known(model)?;
    let (input, output) = match m.long {
        Some(long) if usage.input_tokens > long.above => (long.input, long.output),
        _ => (m.input, m.output),
    };
    Some((usage.input_tokens as f64 * input + usage.output_tokens as f64 * output) / 1_000_000.0)
}

/// Prices are US dollars per million tokens.
struct Known {
    prefix: &'static str,
    window: u64,
    input: f64,
    output: f64,
    /// A higher price for prompts above a size (Claude Sonnet 4.x, Gemini 2.5 Pro).
    long: Option<Long>,
}

#[derive(Clone, Copy)]
struct Long {
    above: u64,
    input: f64,
    output: f64,
}

const fn m(prefix: &'static str, window: u64, input: f64, output: f64) -> Known {
    Known {
        prefix,
        window,
        input,
        output,
        long: None,
    }
}

const K200: u64 = 200_000;
const GPT41_WINDOW: u64 = 1_047_576;
const GEMINI_WINDOW: u64 = 1_048_576;

/// The longest matching prefix wins, so `gpt-4o-mini` is not priced as `gpt-4o`.
/// Dated snapshots (`claude-sonnet-4-5-20250929`, `gpt-4.1-2025-04-14`) match their family.
const KNOWN: &[Known] = &[
    // Anthropic. Opus 4.5 cut the price of Opus 4 and 4.1 by two thirds.
    m("claude-opus-4-5", K200, 5.0, 25.0),
    m("claude-opus-4-1", K200, 15.0, 75.0),
    m("claude-opus-4", K200, 15.0, 75.0),
    Known {
        long: Some(Long {
            above: K200,
            input: 6.0,
            output: 22.5,
        }),
        ..m("claude-sonnet-4", K200, 3.0, 15.0)
    },
    m("claude-3-7-sonnet", K200, 3.0, 15.0),
    m("claude-3-5-sonnet", K200, 3.0, 15.0),
    m("claude-haiku-4-5", K200, 1.0, 5.0),
    m("claude-3-5-haiku", K200, 0.8, 4.0),
    // OpenAI.
    m("gpt-4.1", GPT41_WINDOW, 2.0, 8.0),
    m("gpt-4.1-mini", GPT41_WINDOW, 0.4, 1.6),
    m("gpt-4.1-nano", GPT41_WINDOW, 0.1, 0.4),
    m("gpt-4o", 128_000, 2.5, 10.0),
    m("gpt-4o-mini", 128_000, 0.15, 0.6),
    m("o3", K200, 2.0, 8.0),
    m("o3-pro", K200, 20.0, 80.0),
    m("o3-mini", K200, 1.1, 4.4),
    m("o4-mini", K200, 1.1, 4.4),
    // Google.
    Known {
        long: Some(Long {
            above: K200,
            input: 2.5,
            output: 15.0,
        }),
        ..m("gemini-2.5-pro", GEMINI_WINDOW, 1.25, 10.0)
    },
    m("gemini-2.5-flash", GEMINI_WINDOW, 0.3, 2.5),
    m("gemini-2.5-flash-lite", GEMINI_WINDOW, 0.1, 0.4),
];

fn known(model: &ModelRef) -> Option<&'static Known> {
    // Routers name models `vendor/model` (`openai/anthropic/claude-sonnet-4-5`).
    let name = model
        .model
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    KNOWN
        .iter()
        .filter(|k| {
            name.strip_prefix(k.prefix)
                // A whole name part: `o3` must not take `o3x`, nor `gpt-4.1` take `gpt-4.10`.
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', ':', '@']))
        })
        .max_by_key(|k| k.prefix.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn model(name: &str) -> ModelRef {
        name.parse().unwrap()
    }

    fn usage(input_tokens: u64, output_tokens: u64) -> Usage {
        Usage {
            input_tokens,
            output_tokens,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn usual_models_are_known() {
        for kind in ProviderKind::ALL {
            let m = ModelRef {
                provider: kind,
                model: usual_model(kind).to_owned(),
            };
            assert!(context_window(&m).is_some(), "{m}");
            assert!(cost_usd(&m, usage(1, 1)).is_some(), "{m}");
        }
    }

    #[test]
    fn prices_by_longest_prefix() {
        // A tenth of a million each way, below every long-prompt tier: ten times this is the
        // sum of the two list prices.
        let tenth = usage(100_000, 100_000);
        let cost = |name: &str| 10.0 * cost_usd(&model(name), tenth).unwrap();
        assert!(close(cost("anthropic/claude-sonnet-4-5"), 18.0));
        assert!(close(cost("anthropic/claude-sonnet-4-5-20250929"), 18.0));
        assert!(close(cost("anthropic/claude-opus-4-1"), 90.0));
        assert!(close(cost("anthropic/claude-opus-4-5"), 30.0));
        assert!(close(cost("anthropic/claude-opus-4-20250514"), 90.0));
        assert!(close(cost("anthropic/claude-haiku-4-5"), 6.0));
        assert!(close(cost("anthropic/claude-3-5-haiku-latest"), 4.8));
        assert!(close(cost("openai/gpt-4.1"), 10.0));
        assert!(close(cost("openai/gpt-4.1-mini-2025-04-14"), 2.0));
        assert!(close(cost("openai/gpt-4.1-nano"), 0.5));
        assert!(close(cost("openai/gpt-4o"), 12.5));
        assert!(close(cost("openai/gpt-4o-mini"), 0.75));
        assert!(close(cost("openai/o3"), 10.0));
        assert!(close(cost("openai/o4-mini"), 5.5));
        assert!(close(cost("gemini/gemini-2.5-flash"), 2.8));
        assert!(close(cost("gemini/gemini-2.5-flash-lite"), 0.5));
        // Through a router.
        assert!(close(cost("openai/anthropic/claude-sonnet-4-5"), 18.0));
    }

    #[test]
    fn long_prompts_cost_more() {
        let pro = model("gemini/gemini-2.5-pro");
        assert!(close(cost_usd(&pro, usage(100_000, 0)).unwrap(), 0.125));
        assert!(close(
            cost_usd(&pro, usage(300_000, 1_000_000)).unwrap(),
            0.75 + 15.0
        ));
        let sonnet = model("anthropic/claude-sonnet-4");
        assert!(close(cost_usd(&sonnet, usage(300_000, 0)).unwrap(), 1.8));
    }

    #[test]
    fn unknown_models_have_no_price_or_window() {
        for name in [
            "openai/llama3.1:8b",
            "openai/o3x",
            "openai/gpt-4.10",
            "gemini/gemini-1.0-pro",
        ] {
            assert_eq!(cost_usd(&model(name), usage(10, 10)), None, "{name}");
            assert_eq!(context_window(&model(name)), None, "{name}");
        }
    }

    #[test]
    fn windows() {
        assert_eq!(
            context_window(&model("anthropic/claude-sonnet-4-5")),
            Some(200_000)
        );
        assert_eq!(
            context_window(&model("openai/gpt-4.1-mini")),
            Some(1_047_576)
        );
        assert_eq!(context_window(&model("openai/gpt-4o")), Some(128_000));
        assert_eq!(
            context_window(&model("gemini/gemini-2.5-pro")),
            Some(1_048_576)
        );
    }
}
