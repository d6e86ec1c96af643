//! [`Name`]: a shared, immutable string for the names every fact repeats (actor, entity,
//! entity type, tenant, fact type, subtype).
//!
//! An entity emits thousands of facts with the same six names; each fact also travels,
//! is retried, de-duplicated and observed. With owned strings every one of those copies was an
//! allocation. A `Name` is built once per emitter and cloned by reference count; it compares,
//! orders, hashes, prints and serialises exactly as the string it holds, so swapping it for a
//! `String` changes no output.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A shared, immutable string (see the module documentation). `Arc`, not `Rc`: facts travel
/// between madsim nodes, whose messages must be `Send`.
#[derive(Clone)]
pub struct Name(Arc<str>);

impl Name {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        // Clones of one name (the common case) are equal without comparing bytes.
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As the string hashes, so that `Borrow<str>` lookups find it.
        self.as_str().hash(state);
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return std::cmp::Ordering::Equal;
        }
        self.0.cmp(&other.0)
    }
}

impl Default for Name {
    fn default() -> Self {
        Self::from("")
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Self {
        Self(Arc::from(name))
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        Self(Arc::from(name))
    }
}

impl From<&String> for Name {
    fn from(name: &String) -> Self {
        Self::from(name.as_str())
    }
}

impl From<&Name> for Name {
    fn from(name: &Name) -> Self {
        name.clone()
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.as_str().to_owned()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn a_name_behaves_as_its_string() {
        let names = ["", "entity:t0/account-3", "tenant:1", "é\"\\"];
        for (left, right) in names.iter().zip(names.iter().rev()) {
            let (name, other) = (Name::from(*left), Name::from(*right));
            assert_eq!(name.cmp(&other), left.cmp(right));
            assert_eq!(name == other, left == right);
            assert_eq!(hash_of(&name), hash_of(*left));
            assert_eq!(name.to_string(), *left);
            assert_eq!(format!("{name:?}"), format!("{left:?}"));
            assert_eq!(
                serde_json::to_string(&name).ok(),
                serde_json::to_string(left).ok()
            );
            let back: Option<Name> = serde_json::to_string(left)
                .ok()
                .and_then(|json| serde_json::from_str(&json).ok());
            assert_eq!(back, Some(name.clone()));
            let owned = (*left).to_owned();
            // Both directions of each comparison with a string.
            assert_eq!(name, *left);
            assert_eq!(*left, name);
            assert_eq!(name, owned);
            assert_eq!(owned, name);
        }
    }

    #[test]
    fn clones_share_the_string() {
        let name = Name::from("tenant:acme");
        let copy = name.clone();
        assert!(std::ptr::eq(name.as_str(), copy.as_str()));
    }
}
