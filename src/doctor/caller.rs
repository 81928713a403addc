//! Who the credentials belong to (STS GetCallerIdentity).

use super::{Check, CheckId, Status};
use crate::aws_api::{Aws, Caller};

pub fn check(aws: &Aws) -> (Check, Option<Caller>) {
    match aws.caller() {
        Ok(caller) => (
            Check::ok(
                CheckId::Caller,
                format!("{} (account {})", caller.arn, caller.account),
            ),
            Some(caller),
        ),
        Err(err) => (Check::from_error(CheckId::Caller, Status::Fail, err), None),
    }
}
