# The guide's AWS-side steps 3 and 4: an Identity Center attribute for access control
# (username from ${path:userName}) and a policy that allows rds-db:connect only as the user
# named by that attribute, attached to a permission set.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

data "aws_db_instance" "target" {
  count                  = var.db_instance_identifier == null ? 0 : 1
  db_instance_identifier = var.db_instance_identifier
}

data "aws_rds_cluster" "target" {
  count              = var.db_cluster_identifier == null ? 0 : 1
  cluster_identifier = var.db_cluster_identifier
}

locals {
  resource_id = (
    var.db_cluster_identifier != null
    ? data.aws_rds_cluster.target[0].cluster_resource_id
    : data.aws_db_instance.target[0].resource_id
  )
  # The literal ${aws:PrincipalTag/KEY}, evaluated by IAM, not by Terraform.
  dbuser_arn = "arn:${data.aws_partition.current.partition}:rds-db:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:dbuser:${local.resource_id}/$${aws:PrincipalTag/${var.attribute_key}}"
}

resource "aws_ssoadmin_instance_access_control_attributes" "this" {
  count        = var.manage_access_control_attributes ? 1 : 0
  instance_arn = var.sso_instance_arn
  attribute {
    key = var.attribute_key
    value {
      source = [var.attribute_source]
    }
  }
}

data "aws_iam_policy_document" "connect" {
  statement {
    sid       = var.policy_name
    effect    = "Allow"
    actions   = ["rds-db:connect"]
    resources = [local.dbuser_arn]
  }
}

resource "aws_ssoadmin_permission_set_inline_policy" "connect" {
  instance_arn       = var.sso_instance_arn
  permission_set_arn = var.permission_set_arn
  inline_policy      = data.aws_iam_policy_document.connect.json
}
