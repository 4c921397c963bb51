//! The latency histogram as the result contract carries it (`latency_histogram`, docs/result-contract.md):
//! HdrHistogram's V2 + DEFLATE serialised form (the format of the Java and Rust HdrHistogram libraries), in
//! standard base64, microseconds. It also owns the percentiles a result reports from a histogram, so a run and
//! a merge compute them the same way. It knows nothing of runs, files or the load.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};

use crate::result::LatencyMs;

/// Why a histogram could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum HistogramError {
    /// The serializer refused the histogram.
    #[error("cannot serialise the latency histogram: {0}")]
    Encode(#[from] hdrhistogram::serialization::V2DeflateSerializeError),
    /// The text is not base64.
    #[error("the latency histogram is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The bytes are not a V2 (deflate) HdrHistogram.
    #[error("the latency histogram is not an HdrHistogram V2 (deflate) encoding: {0}")]
    Decode(#[from] hdrhistogram::serialization::DeserializeError),
}

/// `histogram` in the contract's form: V2 + DEFLATE, base64.
pub fn encode(histogram: &Histogram<u64>) -> Result<String, HistogramError> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new().serialize(histogram, &mut bytes)?;
    Ok(STANDARD.encode(bytes))
}

/// The histogram a contract's `latency_histogram` text holds.
pub fn decode(text: &str) -> Result<Histogram<u64>, HistogramError> {
    let bytes = STANDARD.decode(text.trim())?;
    Ok(Deserializer::new().deserialize(&mut bytes.as_slice())?)
}

/// p50/p90/p99/max in milliseconds of a histogram in microseconds; all 0 when it is empty.
pub fn latency_ms(histogram: &Histogram<u64>) -> LatencyMs {
    if histogram.is_empty() {
        return LatencyMs::default();
    }
    let quantile = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    LatencyMs {
        p50: quantile(0.50),
        p90: quantile(0.90),
        p99: quantile(0.99),
        max: histogram.max() as f64 / 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_survives_encoding_and_bad_text_is_refused() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for micros in [1, 250, 1_000, 1_234, 99_999, 3_000_000] {
            histogram.record(micros).unwrap();
        }
        let text = encode(&histogram).unwrap();
        let back = decode(&text).unwrap();
        assert_eq!(back, histogram);
        assert_eq!(latency_ms(&back), latency_ms(&histogram));
        assert!(matches!(
            decode("not base64!"),
            Err(HistogramError::Base64(_))
        ));
        assert!(matches!(decode("aGVsbG8="), Err(HistogramError::Decode(_))));
        assert_eq!(
            latency_ms(&Histogram::new(3).unwrap()),
            LatencyMs::default()
        );
    }
}
