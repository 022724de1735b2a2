//! Type names from name words: the element type (`_i32`, `float64`, ...) and the kind hint
//! (`q`, `stk`, `sem`, `fut`, ...) an entry's name carries, turned into a [`Guess`].

use super::fit::Fit;
use super::{Dtype, DtypeSource, Guess, Kind, Spec};

/// Lower-case name tokens split at `_`, `-`, `.`, `/` and spaces.
pub(super) fn tokens(name: &str) -> Vec<String> {
    name.split(['_', '-', '.', '/', ' '])
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The lock-free structure kind token of a name.
pub(super) fn kind_hint(tokens: &[String]) -> Option<Kind> {
    tokens.iter().find_map(|t| match t.as_str() {
        "arr" | "array" => Some(Kind::Array),
        "q" | "queue" => Some(Kind::Queue),
        "stk" | "stack" => Some(Kind::Stack),
        "ring" | "rb" => Some(Kind::Ring),
        "map" | "dict" => Some(Kind::Map),
        "set" => Some(Kind::Set),
        "pool" => Some(Kind::Pool),
        _ => None,
    })
}

/// The sync/codata kind token of a name.
pub(super) fn prim_hint(tokens: &[String]) -> Option<Kind> {
    tokens.iter().find_map(|t| match t.as_str() {
        "sem" | "semaphore" => Some(Kind::Semaphore),
        "mtx" | "mutex" | "lock" => Some(Kind::Mutex),
        "bar" | "barrier" => Some(Kind::Barrier),
        "lat" | "latch" => Some(Kind::Latch),
        "once" => Some(Kind::Once),
        "fut" | "future" | "promise" => Some(Kind::Future),
        "lazy" => Some(Kind::Lazy),
        _ => None,
    })
}

/// The type tokens of a name, in order.
fn dtype_tokens(tokens: &[String]) -> Vec<Dtype> {
    tokens
        .iter()
        .filter_map(|t| t.parse::<Dtype>().ok())
        .collect()
}

/// Picks element types for the sizes `sizes` from the name's type tokens (in order), falling
/// back to signed integers.
fn pick_dtypes(name: &str, sizes: &[u64]) -> Option<(Vec<Dtype>, DtypeSource)> {
    let hints = dtype_tokens(&tokens(name));
    let mut from_name = Vec::new();
    let mut rest = hints.as_slice();
    for &s in sizes {
        let Some(p) = rest.iter().position(|d| d.size() == s) else {
            break;
        };
        from_name.push(*rest.get(p)?);
        rest = rest.get(p.checked_add(1)?..)?;
    }
    if from_name.len() == sizes.len() {
        return Some((from_name, DtypeSource::Name));
    }
    let fallback = sizes
        .iter()
        .map(|&s| Dtype::signed_of_size(s))
        .collect::<Option<Vec<_>>>()?;
    Some((fallback, DtypeSource::Size))
}

/// The guess for a fitted lock-free structure, its types from the name or the sizes.
pub(super) fn spec_of(fit: Fit, name: &str) -> Option<Guess> {
    let sizes: Vec<u64> = if fit.kind == Kind::Map {
        vec![fit.es, fit.vs]
    } else {
        vec![fit.es]
    };
    let (d, source) = pick_dtypes(name, &sizes)?;
    Some(Guess::Known {
        spec: Spec {
            kind: fit.kind,
            dtype: Some(*d.first()?),
            value: d.get(1).copied(),
        },
        source,
    })
}

/// A typed codata/sync kind whose element size is one of `sizes`: the first type token of the
/// name with such a size, else the signed integer if only one size is possible, else unknown.
pub(super) fn typed(kind: Kind, name: &str, sizes: &[u64]) -> Guess {
    let from_name = dtype_tokens(&tokens(name))
        .into_iter()
        .find(|d| sizes.contains(&d.size()));
    let (dtype, source) = match (from_name, sizes) {
        (Some(d), _) => (Some(d), DtypeSource::Name),
        (None, [one]) => (Dtype::signed_of_size(*one), DtypeSource::Size),
        (None, _) => (None, DtypeSource::Unknown),
    };
    let source = if dtype.is_none() {
        DtypeSource::Unknown
    } else {
        source
    };
    Guess::Known {
        spec: Spec {
            kind,
            dtype,
            value: None,
        },
        source,
    }
}

/// The guess for an untyped (synchronisation) kind.
pub(super) fn untyped(kind: Kind) -> Guess {
    Guess::Known {
        spec: Spec::untyped(kind),
        source: DtypeSource::Untyped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_tokens_give_types_in_order() {
        let (d, s) = pick_dtypes("map_i32_f64", &[4, 8]).expect("types");
        assert_eq!((d, s), (vec![Dtype::I32, Dtype::F64], DtypeSource::Name));
        let (d, s) = pick_dtypes("samples", &[8]).expect("types");
        assert_eq!((d, s), (vec![Dtype::I64], DtypeSource::Size));
        let (d, _) = pick_dtypes("arr_float32", &[4]).expect("types");
        assert_eq!(d, vec![Dtype::F32]);
        // Tokens are used in order: the value type comes after the key type.
        let (d, s) = pick_dtypes("map_f64_i32", &[4, 8]).expect("types");
        assert_eq!((d, s), (vec![Dtype::I32, Dtype::I64], DtypeSource::Size));
        assert_eq!(kind_hint(&tokens("stk_u8")), Some(Kind::Stack));
        assert_eq!(prim_hint(&tokens("Fut-Err")), Some(Kind::Future));
    }

    #[test]
    fn typed_kinds_take_a_name_token_of_a_possible_size() {
        let g = typed(Kind::Signal, "sig_f32", &[1, 2, 4, 8]);
        assert_eq!(g.label(), "signal<float32>");
        let g = typed(Kind::Future, "result", &[4]);
        assert_eq!(g.label(), "future<int32>");
        let g = typed(Kind::Future, "result", &[1, 2, 4, 8]);
        assert_eq!(g.label(), "future<?>");
        assert_eq!(untyped(Kind::Latch).label(), "latch");
    }
}
