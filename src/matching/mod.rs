//! Matching: which home product, if any, each foreign listing copies.
//!
//! One module per step, in the order a listing meets them:
//!
//! 1. [`text`]: title normalisation for marketplace text (units, model codes, spam words,
//!    Indonesian-English lexicon).
//! 2. [`index`]: TF-IDF of words and character n-grams, parallel top-k cosine candidates.
//! 3. [`features`]: one `ndarray` row of similarities per candidate pair.
//! 4. [`matcher`]: match probability, unsupervised by default, `linfa` logistic when labelled
//!    pairs exist; per-feature explanations.
//! 5. [`rates`]: exchange rates between the listings' currencies and the home catalog's,
//!    configured or learned from confident matches, so prices compare.

pub mod features;
pub mod index;
pub mod matcher;
pub mod rates;
pub mod text;
