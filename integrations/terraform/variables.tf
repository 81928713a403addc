variable "sso_instance_arn" {
  description = "The IAM Identity Center instance ARN (aws sso-admin list-instances)."
  type        = string
}

variable "permission_set_arn" {
  description = "The permission set that gets rds-db:connect."
  type        = string
}

variable "db_instance_identifier" {
  description = "The RDS instance to allow (set this or db_cluster_identifier)."
  type        = string
  default     = null
}

variable "db_cluster_identifier" {
  description = "The Aurora cluster to allow (set this or db_instance_identifier)."
  type        = string
  default     = null
}

variable "attribute_key" {
  description = "The access-control attribute that carries the database user name."
  type        = string
  default     = "username"
}

variable "attribute_source" {
  description = "Where Identity Center takes the attribute's value from."
  type        = string
  default     = "$${path:userName}"
}

variable "manage_access_control_attributes" {
  description = "Create the instance's access-control attributes. An Identity Center instance has one such resource: set false when it is managed elsewhere (then add the attribute there)."
  type        = bool
  default     = true
}

variable "policy_name" {
  description = "A name for the statement's Sid."
  type        = string
  default     = "RdsIamConnect"
}
