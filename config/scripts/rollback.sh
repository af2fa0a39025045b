#!/bin/sh
# Example rollback command for config/receiver.yml: replace with your own (kubectl, helm, a deploy API).
# Called as: rollback.sh SERVICE PREVIOUS_VERSION, with ROLLBACK_* variables in the environment.
set -eu
service="$1"
to_version="$2"
echo "rolling back ${service} from ${ROLLBACK_FROM_VERSION:-?} to ${to_version} (deployment ${ROLLBACK_DEPLOYMENT_ID:-?})"
# For example: kubectl rollout undo "deployment/${service}" --to-revision=...
