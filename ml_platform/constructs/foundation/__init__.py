"""What every capability builds on: KMS keys per data domain, the isolated VPC, platform roles,
the alert topic and budget, and the one shape of a Lambda function in the VPC."""
