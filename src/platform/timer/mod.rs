//! How the user keeps a `.pgpass` token fresh: the platform's own scheduler runs `refresh`.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

/// A `schtasks` line that runs `command` (a whole command line) every ten minutes. `/TR` takes
/// the command as one word, so it is quoted once more for cmd.exe. (Pure, so it is tested on
/// every platform; only Windows prints it.)
#[cfg_attr(not(windows), allow(dead_code))]
pub fn schtasks_line(command: &str) -> String {
    format!(
        "schtasks /Create /F /SC MINUTE /MO 10 /TN rdsiam-helper-refresh /TR {}",
        super::quoting::cmd(command)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_line_quotes_a_program_path_with_spaces_once_more() {
        let command = format!(
            "{} refresh --all",
            super::super::quoting::cmd(r"C:\Program Files\rdsiam-helper\rdsiam-helper.exe")
        );
        assert_eq!(
            schtasks_line(&command),
            r#"schtasks /Create /F /SC MINUTE /MO 10 /TN rdsiam-helper-refresh /TR "\"C:\Program Files\rdsiam-helper\rdsiam-helper.exe\" refresh --all""#
        );
    }
}
