#!/usr/bin/env bash
# Runs echoload from many pods at once against the echod Service and merges their reports.
#   deploy/k8s/load.sh [-n PODS] [-d DURATION] [-c CONNECTIONS_PER_POD] [-o DIR]
# Applies deploy/k8s/load (an Indexed Job) with parallelism = completions = PODS, waits for it,
# reads each pod's JSON report from its log (after the "--- echoload report ---" line) into
# DIR/report-INDEX.json, and merges them with `echoload merge` into DIR/merged.json (echoload:
# $ECHOLOAD, else on PATH, else build/client/echoload). Exits 1 when a pod or the merge failed.
# kubectl's current context and namespace are used; the Job is deleted first if it exists.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pods=4 duration=30s connections=100 out=echoload-k8s
while getopts "n:d:c:o:h" opt; do
  case $opt in
    n) pods=$OPTARG ;;
    d) duration=$OPTARG ;;
    c) connections=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,8p' "$0" >&2; exit 2 ;;
  esac
done
[[ $pods =~ ^[1-9][0-9]*$ ]] || { echo "load.sh: -n must be a positive integer, not '$pods'" >&2; exit 2; }
echoload=${ECHOLOAD:-$(command -v echoload || echo "$here/../../build/client/echoload")}
[[ -x $echoload ]] || { echo "load.sh: echoload not found (set ECHOLOAD)" >&2; exit 2; }

# An overlay in a temporary directory sets the size of the run; the base stays as it is.
overlay=$(mktemp -d)
trap 'rm -rf "$overlay"' EXIT
cat >"$overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$overlay" "$here/load")
patches:
  - target: {kind: Job, name: echoload}
    patch: |-
      - {op: replace, path: /spec/completions, value: $pods}
      - {op: replace, path: /spec/parallelism, value: $pods}
      - {op: replace, path: /spec/template/spec/containers/0/env/1/value, value: "$duration"}
      - {op: replace, path: /spec/template/spec/containers/0/env/2/value, value: "$connections"}
YAML

kubectl delete job echoload --ignore-not-found --wait=true >/dev/null
kubectl apply -k "$overlay"
# Complete or Failed, whichever comes first (kubectl wait takes one condition at a time).
until kubectl get job echoload -o jsonpath='{.status.conditions[?(@.status=="True")].type}' |
  grep -Eq 'Complete|Failed'; do
  sleep 2
done

mkdir -p "$out"
status=0
reports=()
for ((i = 0; i < pods; i++)); do
  pod=$(kubectl get pods -l "job-name=echoload,batch.kubernetes.io/job-completion-index=$i" \
    -o jsonpath='{.items[0].metadata.name}')
  file="$out/report-$i.json"
  kubectl logs "$pod" | sed -n '/^--- echoload report ---$/,$p' | tail -n +2 >"$file"
  if [[ -s $file ]]; then
    reports+=("$file")
  else
    echo "load.sh: pod $pod (index $i) left no report" >&2
    status=1
  fi
done
[[ ${#reports[@]} -gt 0 ]] || exit 1
"$echoload" merge "${reports[@]}" --json "$out/merged.json" || status=1
echo "load.sh: ${#reports[@]} reports merged into $out/merged.json" >&2
exit $status
