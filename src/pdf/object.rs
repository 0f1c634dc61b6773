//! Small readers of PDF objects that the content walker and the font loader share.

use lopdf::{Dictionary, Document, Object};

pub(super) fn num(o: &Object) -> f32 {
    match o {
        Object::Integer(i) => *i as f32,
        Object::Real(r) => *r,
        _ => 0.0,
    }
}

pub(super) fn deref<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    match o {
        Object::Reference(id) => doc.get_object(*id).unwrap_or(o),
        _ => o,
    }
}

pub(super) fn name_of(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<String> {
    match deref(doc, dict.get(key).ok()?) {
        Object::Name(n) => Some(String::from_utf8_lossy(n).into_owned()),
        _ => None,
    }
}
