/// `refresh`: the command line (quoted for cmd.exe) that Task Scheduler is to run.
pub fn refresh_note(refresh: &str) -> String {
    format!(
        "keep it fresh with a scheduled task: `{}`",
        super::schtasks_line(refresh)
    )
}
