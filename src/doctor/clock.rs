//! The clock: a token signed more than 5 minutes off is refused by the server, and an SSO
//! token looks expired (or not) at the wrong time. Offline, the kernel knows whether NTP keeps
//! the clock in step.

use super::{Check, CheckId};

#[cfg(target_os = "linux")]
pub fn check() -> Check {
    // adjtimex with modes = 0 only reads the kernel's time-keeping state.
    let mut state: libc::timex = unsafe { std::mem::zeroed() };
    let result = unsafe { libc::adjtimex(&mut state) };
    let now = crate::clock::rfc3339(crate::clock::now());
    if result == libc::TIME_ERROR {
        return Check::warn(
            CheckId::Clock,
            format!("{now}: the kernel says the clock is not synchronised (no NTP); tokens signed 5 minutes off are refused"),
        )
        .fix("turn on time synchronisation: `sudo timedatectl set-ntp true` (or start chronyd / ntpd)");
    }
    if result < 0 {
        return Check::skip(
            CheckId::Clock,
            format!("{now}: the kernel's clock state cannot be read"),
        );
    }
    Check::ok(
        CheckId::Clock,
        format!(
            "{now}, synchronised (estimated error {} ms)",
            state.maxerror / 1000
        ),
    )
}

#[cfg(not(target_os = "linux"))]
pub fn check() -> Check {
    let now = crate::clock::rfc3339(crate::clock::now());
    Check::skip(
        CheckId::Clock,
        format!(
            "{now}; compare with an NTP source (`sntp -d time.apple.com`) if tokens are refused"
        ),
    )
}
