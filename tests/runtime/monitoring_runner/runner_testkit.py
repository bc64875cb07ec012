"""Names of the dev account the monitoring function tests pretend to run in."""
ACCOUNT, REGION = "111122223333", "eu-west-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b6a4f7e-2f4c-4f7a-9d4e-1c2b3a4d5e6f"
BUCKET = f"mlp-dev-artifacts-{ACCOUNT}"
