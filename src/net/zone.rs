//! Segment identity: the VLAN IDs and tunnel identities (VXLAN/GENEVE VNI, GRE key,
//! ERSPAN session) a packet travelled through, folded into one compact flow-key word.

use std::collections::HashMap;
use std::fmt;

use super::fasthash::FastState;

/// Most identities a [`ZonePath`] keeps for naming (all are folded into the zone).
pub const MAX_PATH_IDS: usize = 8;
/// Most zones named in [`ZoneNames`]; later zones are still kept apart, but unnamed.
pub const MAX_ZONE_NAMES: usize = 4096;

/// Kind of identity folded into a [`Zone`] (so VLAN 5 and VNI 5 differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum IdKind {
    Vlan = 1,
    Vni = 2,
    GreKey = 3,
    ErspanSession = 4,
}

/// Identity of the segment a packet was captured in; 0 is "no VLAN, no tunnel identity".
/// Two packets with the same addresses but different zones belong to different flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Zone(pub u32);

impl Zone {
    /// Folds one identity in (order matters: outer first). A multiply and a rotate.
    #[inline]
    pub fn with(self, kind: IdKind, id: u32) -> Zone {
        let x = (self.0.rotate_left(7) ^ (kind as u32).wrapping_mul(0x9e37_79b9) ^ id)
            .wrapping_mul(0x85eb_ca6b);
        // Never 0, so that a tagged packet never looks untagged.
        Zone(x | (x == 0) as u32)
    }
}

impl IdKind {
    fn as_str(self) -> &'static str {
        match self {
            IdKind::Vlan => "vlan",
            IdKind::Vni => "vni",
            IdKind::GreKey => "gre key",
            IdKind::ErspanSession => "erspan session",
        }
    }
}

/// The identities one packet travelled through, outer first, and their [`Zone`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ZonePath {
    pub zone: Zone,
    ids: [(u8, u32); MAX_PATH_IDS],
    len: u8,
}

impl ZonePath {
    #[inline]
    pub fn push(&mut self, kind: IdKind, id: u32) {
        self.zone = self.zone.with(kind, id);
        if let Some(slot) = self.ids.get_mut(usize::from(self.len)) {
            *slot = (kind as u8, id);
            self.len += 1;
        }
    }
}

/// "vlan 100, vni 5000".
impl fmt::Display for ZonePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KINDS: [IdKind; 4] = [
            IdKind::Vlan,
            IdKind::Vni,
            IdKind::GreKey,
            IdKind::ErspanSession,
        ];
        for (i, (k, id)) in self.ids.iter().take(usize::from(self.len)).enumerate() {
            let kind = KINDS
                .iter()
                .find(|x| **x as u8 == *k)
                .map_or("id", |x| x.as_str());
            write!(f, "{}{kind} {id}", if i > 0 { ", " } else { "" })?;
        }
        Ok(())
    }
}

/// Names of the zones seen ("vlan 100, vni 5000"), at most [`MAX_ZONE_NAMES`].
#[derive(Debug, Default)]
pub struct ZoneNames {
    names: HashMap<Zone, String, FastState>,
    /// The zone noted last (packets come in runs of one tunnel: skips the lookup).
    last: Zone,
}

impl ZoneNames {
    /// Remembers the name of `path`'s zone (the first time it is seen, within the bound).
    #[inline]
    pub fn note(&mut self, path: &ZonePath) {
        if path.zone == self.last {
            return;
        }
        self.last = path.zone;
        if path.zone != Zone::default()
            && self.names.len() < MAX_ZONE_NAMES
            && !self.names.contains_key(&path.zone)
        {
            self.names.insert(path.zone, path.to_string());
        }
    }

    pub fn get(&self, zone: Zone) -> Option<&str> {
        self.names.get(&zone).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_and_ordered() {
        let z = Zone::default();
        let a = z.with(IdKind::Vlan, 5);
        assert_ne!(a, z);
        assert_ne!(a, z.with(IdKind::Vni, 5));
        assert_ne!(a, z.with(IdKind::Vlan, 6));
        assert_eq!(a, z.with(IdKind::Vlan, 5));
        let ab = a.with(IdKind::Vni, 7);
        assert_ne!(ab, z.with(IdKind::Vni, 7).with(IdKind::Vlan, 5));
        assert_ne!(z.with(IdKind::GreKey, 0), z);
    }

    #[test]
    fn paths_are_named() {
        let mut p = ZonePath::default();
        p.push(IdKind::Vlan, 100);
        p.push(IdKind::Vni, 5000);
        assert_eq!(
            p.zone,
            Zone::default()
                .with(IdKind::Vlan, 100)
                .with(IdKind::Vni, 5000)
        );
        assert_eq!(p.to_string(), "vlan 100, vni 5000");
        let mut names = ZoneNames::default();
        names.note(&p);
        names.note(&ZonePath::default());
        assert_eq!(names.get(p.zone), Some("vlan 100, vni 5000"));
        assert_eq!(names.get(Zone::default()), None);
        // Beyond the kept ids the zone still changes.
        let mut q = ZonePath::default();
        for i in 0..(MAX_PATH_IDS as u32 + 2) {
            let before = q.zone;
            q.push(IdKind::GreKey, i);
            assert_ne!(q.zone, before);
        }
        assert_eq!(q.to_string().matches("gre key").count(), MAX_PATH_IDS);
    }
}
