//! Segment identity: the VLAN IDs and tunnel identities (VXLAN/GENEVE VNI, GRE key,
//! ERSPAN session) a packet travelled through, folded into one compact flow-key word.

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
}
