#!/usr/bin/env bash
# A fresh Maven project that uses Forge as a user would: imports forge-bom, depends on forge-runtime (or
# forge-compiler), compiles and runs a small program, once with the CPU ONNX Runtime and once with the
# README's CUDA swap (only resolution and compilation: running CUDA needs a GPU).
#
# It never writes into your ~/.m2: the tree is deployed (install skipped) to a file repository under a
# temporary directory, and both that build and the consumer use their own temporary local repository,
# reading everything else from ~/.m2 as a file mirror of Maven Central (so no download once the tree has
# built once).
# Usage: bash bom/consumer-check.sh   (from anywhere; needs a JDK 17 and Maven)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
m2="${MAVEN_REPO:-$HOME/.m2/repository}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat > "$work/settings.xml" <<XML
<settings>
  <localRepository>$work/local</localRepository>
  <mirrors>
    <mirror><id>m2</id><mirrorOf>central</mirrorOf><url>file://$m2</url></mirror>
  </mirrors>
  <profiles>
    <profile>
      <id>forge</id>
      <repositories>
        <repository><id>forge</id><url>file://$work/repo</url><snapshots><enabled>true</enabled></snapshots></repository>
      </repositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>forge</activeProfile></activeProfiles>
</settings>
XML

echo "consumer-check: deploying the tree to $work/repo (tests skipped, nothing installed)" >&2
# Its own local repository too (reading ~/.m2 through the mirror), so not even resolver metadata is written
# into ~/.m2. Not offline: Maven refuses to deploy in offline mode, even to a file repository.
mvn -q -B -s "$work/settings.xml" -DskipTests -Dmaven.install.skip=true \
    -DaltDeploymentRepository=forge-check::file://"$work/repo" deploy >&2

version="$(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$root/bom/pom.xml" | head -1)"
dep=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

# $1: directory, $2: extra <dependency> elements and exclusions, written as the README shows them
consumer() {
  local dir="$1" deps="$2"
  mkdir -p "$dir/src/main/java/demo"
  cat > "$dir/pom.xml" <<XML
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>demo</groupId>
  <artifactId>consumer</artifactId>
  <version>1</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>dev.forge</groupId>
        <artifactId>forge-bom</artifactId>
        <version>$version</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
$deps
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <!-- the versions the Forge build uses, so that everything resolves from the local mirror -->
        <plugin><artifactId>maven-compiler-plugin</artifactId><version>3.13.0</version></plugin>
        <plugin><artifactId>maven-resources-plugin</artifactId><version>3.3.1</version></plugin>
        <plugin><artifactId>maven-jar-plugin</artifactId><version>3.4.2</version></plugin>
        <plugin><artifactId>maven-surefire-plugin</artifactId><version>3.5.4</version></plugin>
        <plugin><artifactId>maven-install-plugin</artifactId><version>3.1.3</version></plugin>
        <plugin><artifactId>maven-clean-plugin</artifactId><version>3.4.0</version></plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
XML
  cat > "$dir/src/main/java/demo/Main.java" <<'JAVA'
package demo;

import dev.forge.runtime.Model;

public class Main {
    public static void main(String[] args) {
        System.out.println("devices " + Model.availableDevices());
    }
}
JAVA
}

cpu="$work/cpu"
consumer "$cpu" '    <dependency><groupId>dev.forge</groupId><artifactId>forge-runtime</artifactId></dependency>'
(cd "$cpu" && mvn -q -B -s "$work/settings.xml" $dep:tree -DoutputFile=tree.txt && mvn -q -B -s "$work/settings.xml" package \
  && mvn -q -B -s "$work/settings.xml" $dep:build-classpath -Dmdep.outputFile=cp.txt)
echo "--- forge-runtime, as a consumer resolves it:"
cat "$cpu/tree.txt"
if [ "$(grep -c -- '- ' "$cpu/tree.txt")" != 2 ] || ! grep -q 'com.microsoft.onnxruntime:onnxruntime:jar:.*:compile' "$cpu/tree.txt"; then
  echo "consumer-check: FAILED: forge-runtime should bring ONNX Runtime and nothing else" >&2
  exit 1
fi
java -cp "$cpu/target/classes:$(cat "$cpu/cp.txt")" demo.Main

compiler="$work/compiler"
consumer "$compiler" '    <dependency><groupId>dev.forge</groupId><artifactId>forge-compiler</artifactId></dependency>'
(cd "$compiler" && mvn -q -B -s "$work/settings.xml" $dep:tree -DoutputFile=tree.txt)
echo "--- forge-compiler, as a consumer resolves it:"
cat "$compiler/tree.txt"
if grep -Eq 'junit|opentest4j|:test$' "$compiler/tree.txt"; then
  echo "consumer-check: FAILED: forge-compiler brings a test library" >&2
  exit 1
fi

gpu="$work/gpu"
consumer "$gpu" '    <dependency>
      <groupId>dev.forge</groupId>
      <artifactId>forge-compiler</artifactId>
      <exclusions><exclusion><groupId>com.microsoft.onnxruntime</groupId><artifactId>onnxruntime</artifactId></exclusion></exclusions>
    </dependency>
    <dependency>
      <groupId>com.microsoft.onnxruntime</groupId>
      <artifactId>onnxruntime_gpu</artifactId>
    </dependency>'
(cd "$gpu" && mvn -q -B -s "$work/settings.xml" $dep:tree -DoutputFile=tree.txt && mvn -q -B -s "$work/settings.xml" compile)
echo "--- the README's CUDA swap:"
cat "$gpu/tree.txt"
if grep -q 'com.microsoft.onnxruntime:onnxruntime:' "$gpu/tree.txt" || ! grep -q 'com.microsoft.onnxruntime:onnxruntime_gpu:jar' "$gpu/tree.txt"; then
  echo "consumer-check: FAILED: the CUDA swap should leave onnxruntime_gpu only" >&2
  exit 1
fi
echo "consumer-check: OK"
