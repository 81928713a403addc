output "resource_id" {
  description = "The DbiResourceId or DbClusterResourceId the policy names."
  value       = local.resource_id
}

output "dbuser_arn" {
  description = "The rds-db:connect resource, with the principal-tag variable."
  value       = local.dbuser_arn
}

output "policy_json" {
  description = "The inline policy attached to the permission set."
  value       = data.aws_iam_policy_document.connect.json
}
