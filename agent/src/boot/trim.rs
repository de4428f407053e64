//! After start-up, the agent's resident set is trimmed of code and read-only data it will not
//! run again (parsing the configuration, adopting the fleet): clean pages of its binary and
//! libraries.

use std::io::BufRead;

/// Unmaps the clean, file-backed pages of the agent's binary and libraries from its address
/// space. They stay in the page cache (shared with every `botctl` command and every process
/// using the same libc), so what the agent runs from here faults back in from memory at
/// once, and only that stays resident; start-up code and the CLI's neighbours in the same
/// pages no longer count as the agent's memory.
///
/// Only mappings that cannot have been written are touched: read-only or executable ones
/// without a single anonymous (copy-on-write) page. Writable data and the relocated
/// read-only data (RELRO, written at load) are never dropped.
pub fn drop_clean_file_pages() {
    let Ok(smaps) = std::fs::File::open("/proc/self/smaps") else {
        return;
    };
    let mut candidate: Option<(usize, usize)> = None;
    let mut clean = Vec::new();
    for line in std::io::BufReader::new(smaps).lines().map_while(Result::ok) {
        if let Some((range, rest)) = line.split_once(' ')
            && let Some((start, end)) = range.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            let mut fields = rest.split_whitespace();
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            let never_written = perms.starts_with('r') && perms.as_bytes().get(1) == Some(&b'-');
            // A file's mapping (not [heap], [stack], [vdso] or an anonymous one).
            candidate = (never_written && path.starts_with('/')).then_some((start, end - start));
        } else if let Some(value) = line.strip_prefix("Anonymous:")
            && let Some(range) = candidate.take()
            && value.trim() == "0 kB"
        {
            clean.push(range);
        }
    }
    for (start, len) in clean {
        // SAFETY: the range is a whole mapping of a file that is not writable and holds no
        // private (anonymous) page: dropping its pages loses nothing,
        // the next access reads them back from the file's page cache.
        unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_file_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("RssFile:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn clean_file_pages_leave_the_resident_set_and_everything_still_runs() {
        let before = rss_file_kib();
        drop_clean_file_pages();
        let after = rss_file_kib();
        assert!(after < before, "RssFile {before} kB -> {after} kB");
        // Code, read-only data and relocated data all still work: they fault back in.
        let text = format!("{:?}", std::collections::BTreeMap::from([(1, "one")]));
        assert_eq!(text, r#"{1: "one"}"#);
        let parsed: toml::Value = toml::from_str("a = [1, 2]").unwrap();
        assert_eq!(parsed["a"][1].as_integer(), Some(2));
        assert!(rss_file_kib() > after, "what ran came back");
    }
}
