/// Saturating arithmetic for timestamps: `ts` comes from outside and may be
/// anything, and a trap in the merge would take the hub down.
extension Int64 {
    /// `self + other`, clamped to the representable range.
    func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self - other`, clamped to the representable range.
    func saturatingSubtract(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}
