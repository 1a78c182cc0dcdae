/// Replaces personal data in text with placeholders: e-mail addresses with `<EMAIL>`, IPv4 and
/// IPv6 addresses with `<IP>`, phone numbers with `<PHONE>`. Works on UTF-8 bytes with
/// hand-written matchers (no regex engine); each kind can be switched off.
struct PIIRedactor: Sendable {
    var emails = true
    var ips = true
    var phones = true

    /// Counts of what was replaced.
    struct Counts { var emails = 0, ips = 0, phones = 0 }

    func redact(_ text: String, counts: inout Counts) -> String {
        var bytes = Array(text.utf8)
        return redact(&bytes, counts: &counts) ? String(decoding: bytes, as: UTF8.self) : text
    }

    /// Redacts UTF-8 text in place; returns whether anything was replaced.
    @discardableResult
    func redact(_ bytes: inout [UInt8], counts: inout Counts) -> Bool {
        var changed = false
        if emails { changed = replace(&bytes, "<EMAIL>", Self.email, &counts.emails) || changed }
        if ips {
            changed = replace(&bytes, "<IP>", Self.ipv4, &counts.ips) || changed
            changed = replace(&bytes, "<IP>", Self.ipv6, &counts.ips) || changed
        }
        if phones { changed = replace(&bytes, "<PHONE>", Self.phone, &counts.phones) || changed }
        return changed
    }

    /// Replaces every match (`matcher(bytes, i)` returns the end of a match starting at `i`).
    private func replace(_ bytes: inout [UInt8], _ placeholder: String, _ matcher: ([UInt8], Int) -> Int?, _ count: inout Int) -> Bool {
        var out: [UInt8] = [], i = 0, found = false
        out.reserveCapacity(bytes.count)
        while i < bytes.count {
            if let end = matcher(bytes, i) {
                out += placeholder.utf8
                count += 1
                found = true
                i = end
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        if found { bytes = out }
        return found
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    static func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
    static func isHex(_ b: UInt8) -> Bool { isDigit(b) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x66) }
    static func isWordByte(_ b: UInt8) -> Bool { isDigit(b) || isAlpha(b) || b == 0x5F || b >= 0x80 }

    /// local@domain.tld, starting at the first byte of the local part.
    static func email(_ s: [UInt8], _ i: Int) -> Int? {
        func isLocal(_ b: UInt8) -> Bool { isDigit(b) || isAlpha(b) || b == 0x2E || b == 0x5F || b == 0x25 || b == 0x2B || b == 0x2D }
        guard isLocal(s[i]), s[i] != 0x2E, i == 0 || !isLocal(s[i - 1]) else { return nil }
        var j = i
        while j < s.count, isLocal(s[j]) { j += 1 }
        guard j < s.count, s[j] == 0x40, j > i else { return nil }
        var k = j + 1, lastDot = -1
        while k < s.count, isDigit(s[k]) || isAlpha(s[k]) || s[k] == 0x2D || s[k] == 0x2E {
            if s[k] == 0x2E { lastDot = k }
            k += 1
        }
        while k > j + 1, s[k - 1] == 0x2E || s[k - 1] == 0x2D { k -= 1 }  // a sentence's full stop is not the domain's
        lastDot = (j + 1..<k).last { s[$0] == 0x2E } ?? -1
        guard lastDot > j + 1, lastDot < k - 2, (lastDot + 1..<k).allSatisfy({ isAlpha(s[$0]) }) else { return nil }
        return k
    }

    /// a.b.c.d with each part 0-255, not inside a longer run of digits and dots.
    static func ipv4(_ s: [UInt8], _ i: Int) -> Int? {
        guard isDigit(s[i]), i == 0 || !(isDigit(s[i - 1]) || s[i - 1] == 0x2E || isAlpha(s[i - 1])) else { return nil }
        var j = i
        for part in 0..<4 {
            var value = 0, digits = 0
            while j < s.count, isDigit(s[j]), digits < 4 { value = value * 10 + Int(s[j] - 0x30); digits += 1; j += 1 }
            guard digits >= 1, digits <= 3, value <= 255 else { return nil }
            if part < 3 {
                guard j < s.count, s[j] == 0x2E else { return nil }
                j += 1
            }
        }
        if j < s.count, isDigit(s[j]) || isAlpha(s[j]) { return nil }
        if j + 1 < s.count, s[j] == 0x2E, isDigit(s[j + 1]) { return nil }
        return j
    }

    /// Hex groups separated by colons: eight groups, or fewer with one `::` (and then at least one
    /// group of three or more digits, so Python slices such as `a[1::2]` are left alone), or `::1`.
    static func ipv6(_ s: [UInt8], _ i: Int) -> Int? {
        guard isHex(s[i]) || (s[i] == 0x3A && i + 1 < s.count && s[i + 1] == 0x3A) else { return nil }
        if i > 0, isWordByte(s[i - 1]) || s[i - 1] == 0x3A { return nil }
        var j = i, groups = 0, colons = 0, doubleColon = false, groupLength = 0, longest = 0
        while j < s.count, isHex(s[j]) || s[j] == 0x3A {
            if s[j] == 0x3A {
                if groupLength > 0 { groups += 1 }
                if j + 1 < s.count, s[j + 1] == 0x3A {
                    if doubleColon { return nil }
                    doubleColon = true
                    colons += 2
                    j += 2
                    groupLength = 0
                    continue
                }
                colons += 1
                groupLength = 0
            } else {
                groupLength += 1
                longest = max(longest, groupLength)
                if groupLength > 4 { return nil }
            }
            j += 1
        }
        if groupLength > 0 { groups += 1 }
        if j < s.count, isWordByte(s[j]) { return nil }
        if s[j - 1] == 0x3A, !(j >= 2 && s[j - 2] == 0x3A) { return nil }
        if j - i == 3, s[i] == 0x3A, s[i + 2] == 0x31 { return j }  // ::1, the loopback address
        // With `::`, a group of three or more hex digits tells an address (fe80::1) from a slice (a[1::2]).
        guard groups <= 8, colons >= 2, doubleColon ? groups >= 2 && longest >= 3 : groups == 8 else { return nil }
        return j
    }

    /// Phone numbers written with separators: an optional +country code, an area code (in
    /// parentheses or not), then two or three more digit groups; 10 to 15 digits in all.
    static func phone(_ s: [UInt8], _ i: Int) -> Int? {
        guard s[i] == 0x2B || s[i] == 0x28 || isDigit(s[i]) else { return nil }
        if i > 0, isWordByte(s[i - 1]) || s[i - 1] == 0x2B || s[i - 1] == 0x2D || s[i - 1] == 0x2E { return nil }
        var j = i, digits = 0, groups = 0
        func isSeparator(_ b: UInt8) -> Bool { b == 0x20 || b == 0x2D || b == 0x2E }
        if s[j] == 0x2B {
            j += 1
            let start = j
            while j < s.count, isDigit(s[j]), j - start < 3 { j += 1 }
            guard j > start, j < s.count, isSeparator(s[j]) else { return nil }
            digits += j - start
            j += 1
        }
        if j < s.count, s[j] == 0x28 {
            let start = j + 1
            j += 1
            while j < s.count, isDigit(s[j]) { j += 1 }
            guard j - start >= 2, j - start <= 4, j < s.count, s[j] == 0x29 else { return nil }
            digits += j - start
            groups += 1
            j += 1
            if j < s.count, isSeparator(s[j]) { j += 1 }
        }
        var separated = groups > 0
        while j < s.count, isDigit(s[j]) {
            let start = j
            while j < s.count, isDigit(s[j]) { j += 1 }
            let length = j - start
            guard length >= 2, length <= 4 else { return nil }
            digits += length
            groups += 1
            if j + 1 < s.count, isSeparator(s[j]), isDigit(s[j + 1]) { j += 1; separated = true } else { break }
        }
        if j < s.count, isWordByte(s[j]) { return nil }
        guard separated, groups >= 3, (10...15).contains(digits) else { return nil }
        return j
    }
}
