/// `refresh`: the command line to run on a timer.
pub fn refresh_note(refresh: &str) -> String {
    format!(
        "keep it fresh by running `{refresh}` on a timer (see integrations/systemd or integrations/launchd)"
    )
}
