#!/usr/bin/env bash
# Entry point of the worker image, following the conventions of Spark's Kubernetes images:
#   driver ARGS...    spark-submit in client mode inside a driver pod (spark-submit --deploy-mode
#                     cluster and the kubeflow spark-operator start drivers this way)
#   executor          an executor that Spark's Kubernetes scheduler created (it passes everything
#                     in SPARK_* environment variables)
#   anything else     run as given (e.g. the native backend's `spark-submit ...`, `semingest ...`)
set -eo pipefail

# Spark on Kubernetes may run the pods with an arbitrary uid (OpenShift): give it a passwd entry,
# or the JVM and Hadoop fail to look up the user name.
ensure_passwd_entry() {
  local uid gid wrapper
  uid="$(id -u)"
  gid="$(id -g)"
  getent passwd "$uid" >/dev/null 2>&1 && return 0
  for wrapper in /usr/lib/libnss_wrapper.so /usr/lib/*/libnss_wrapper.so; do
    [ -s "$wrapper" ] || continue
    NSS_WRAPPER_PASSWD="$(mktemp)"
    NSS_WRAPPER_GROUP="$(mktemp)"
    printf 'spark:x:%s:%s:%s:%s:/bin/false\n' "$uid" "$gid" "${SPARK_USER_NAME:-anonymous uid}" "${HOME:-/tmp}" >"$NSS_WRAPPER_PASSWD"
    printf 'spark:x:%s:\n' "$gid" >"$NSS_WRAPPER_GROUP"
    export LD_PRELOAD="$wrapper" NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
    return 0
  done
}

# tini reaps the JVM's and Python's children and forwards signals (always there in the image).
init=()
if [ -x /usr/bin/tini ]; then
  init=(/usr/bin/tini -s --)
fi

: "${SPARK_HOME:?SPARK_HOME is not set}"
: "${JAVA_HOME:?JAVA_HOME is not set}"

classpath="${SPARK_CONF_DIR:-$SPARK_HOME/conf}:${SPARK_HOME}/jars/*"
if [ -n "${SPARK_EXTRA_CLASSPATH:-}" ]; then
  classpath="$classpath:$SPARK_EXTRA_CLASSPATH"
fi
if [ -n "${HADOOP_CONF_DIR:-}" ]; then
  classpath="$HADOOP_CONF_DIR:$classpath"
fi
# The working directory is on the executors' class path too (SPARK-43540).
classpath="$classpath:$PWD"

# Spark hands the executor's JVM options over as SPARK_JAVA_OPT_0, SPARK_JAVA_OPT_1, ... in order.
executor_java_opts=()
while IFS= read -r name; do
  executor_java_opts+=("${!name}")
done < <(env | sed -n 's/^\(SPARK_JAVA_OPT_[0-9]*\)=.*/\1/p' | sort -t_ -k4 -n)

case "${1:-}" in
  driver)
    shift
    ensure_passwd_entry
    exec "${init[@]}" "$SPARK_HOME/bin/spark-submit" \
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:?}" \
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=${SPARK_DRIVER_BIND_ADDRESS}" \
      --deploy-mode client \
      "$@"
    ;;
  executor)
    shift
    ensure_passwd_entry
    exec "${init[@]}" "$JAVA_HOME/bin/java" \
      "${executor_java_opts[@]}" \
      -Xms"${SPARK_EXECUTOR_MEMORY:?}" -Xmx"${SPARK_EXECUTOR_MEMORY}" \
      -cp "$classpath${SPARK_DIST_CLASSPATH:+:$SPARK_DIST_CLASSPATH}" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "${SPARK_DRIVER_URL:?}" \
      --executor-id "${SPARK_EXECUTOR_ID:?}" \
      --cores "${SPARK_EXECUTOR_CORES:?}" \
      --app-id "${SPARK_APPLICATION_ID:?}" \
      --hostname "${SPARK_EXECUTOR_POD_IP:?}" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
      --podName "${SPARK_EXECUTOR_POD_NAME:-}"
    ;;
  "")
    echo "usage: driver ARGS... | executor | COMMAND ARGS..." >&2
    exit 64
    ;;
  *)
    ensure_passwd_entry
    exec "${init[@]}" "$@"
    ;;
esac
