package dev.forge.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * What a user of the published artifacts gets: the poms that Maven installs and deploys are the flattened
 * ones that the reactor writes to {@code <module>/target/.flattened-pom.xml} (flatten-maven-plugin, see
 * docs/PACKAGING.md). Without {@code mvn install} (the shared repository is off limits to tests) this is
 * the closest check of a fresh consumer project: its dependencies resolve exactly from these files.
 *
 * <p>A module that the current reactor did not build (e.g. {@code -pl models -am} skips the BOM) is
 * skipped, not failed; a build from the root checks all of them.
 */
class PublishedPomTest {
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();

    /** One {@code <dependency>}: coordinates, type and scope as written. */
    record Dep(String groupId, String artifactId, String version, String type, String scope) {
        String ga() {
            return groupId + ":" + artifactId;
        }
    }

    private static Document published(String module) throws Exception {
        Path p = ROOT.resolve(module).resolve("target").resolve(".flattened-pom.xml");
        assumeTrue(
                Files.isRegularFile(p), p + " is written by the reactor build of " + module + " (process-resources)");
        String text = Files.readString(p);
        assertFalse(text.contains("${"), module + ": the published pom has an unresolved placeholder:\n" + text);
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(false);
        return f.newDocumentBuilder().parse(p.toFile());
    }

    private static Element child(Element e, String name) {
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element c && c.getTagName().equals(name)) {
                return c;
            }
        }
        return null;
    }

    private static String text(Element e, String name) {
        Element c = child(e, name);
        return c == null ? null : c.getTextContent().strip();
    }

    /** The {@code dependency} children of {@code <section>/<dependencies>} ({@code section} null: the project's own). */
    private static List<Dep> deps(Document d, String section) {
        Element root = d.getDocumentElement();
        Element owner = section == null ? root : child(root, section);
        List<Dep> out = new ArrayList<>();
        Element list = owner == null ? null : child(owner, "dependencies");
        if (list == null) {
            return out;
        }
        for (Node n = list.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals("dependency")) {
                out.add(new Dep(
                        text(e, "groupId"),
                        text(e, "artifactId"),
                        text(e, "version"),
                        text(e, "type") == null ? "jar" : text(e, "type"),
                        text(e, "scope") == null ? "compile" : text(e, "scope")));
            }
        }
        return out;
    }

    private static List<Dep> consumed(Document d) {
        return deps(d, null).stream()
                .filter(x -> Set.of("compile", "runtime").contains(x.scope()))
                .toList();
    }

    /** What Maven Central requires of every published pom, and nothing that points back into this build. */
    private static void assertCentralReady(String module, Document d) {
        Element p = d.getDocumentElement();
        assertEquals(null, child(p, "parent"), module + ": the published pom must stand alone (no parent)");
        for (String e : List.of("groupId", "artifactId", "version", "name", "description", "url")) {
            assertTrue(text(p, e) != null && !text(p, e).isEmpty(), module + ": no <" + e + ">");
        }
        assertEquals("Apache-2.0", text(child(child(p, "licenses"), "license"), "name"), module + ": license");
        assertTrue(
                text(child(p, "scm"), "url") != null && text(child(p, "scm"), "connection") != null,
                module + ": <scm>");
        assertTrue(child(child(p, "developers"), "developer") != null, module + ": <developers>");
        assertEquals(null, child(p, "build"), module + ": the published pom carries no build section");
    }

    private static String version(Document d) {
        return text(d.getDocumentElement(), "version");
    }

    @Test
    void the_runtime_depends_on_onnx_runtime_only_with_a_concrete_artifact() throws Exception {
        Document runtime = published("runtime");
        assertCentralReady("runtime", runtime);
        List<Dep> deps = consumed(runtime);
        assertEquals(1, deps.size(), "forge-runtime must depend on ONNX Runtime only: " + deps);
        Dep ort = deps.get(0);
        // the -Pcuda build publishes the GPU artifact under the same version
        assertTrue(
                Set.of("com.microsoft.onnxruntime:onnxruntime", "com.microsoft.onnxruntime:onnxruntime_gpu")
                        .contains(ort.ga()),
                ort.toString());
        assertTrue(ort.version().matches("\\d+\\.\\d+\\.\\d+"), ort.toString());
    }

    @Test
    void the_compiler_and_models_pull_nothing_test_scoped() throws Exception {
        for (String module : List.of("compiler", "models")) {
            Document d = published(module);
            assertCentralReady(module, d);
            for (Dep dep : deps(d, null)) {
                assertFalse(
                        dep.groupId().startsWith("org.junit")
                                || dep.groupId().equals("com.code-intelligence")
                                || dep.type().equals("test-jar"),
                        module + " publishes a test dependency: " + dep);
                assertTrue(
                        Set.of("compile", "runtime").contains(dep.scope()),
                        module + " publishes a " + dep.scope() + " dependency: " + dep);
            }
            // xchart's pdfbox declares junit-jupiter at compile scope: the exclusion must survive flattening
            for (Dep dep : deps(d, null)) {
                if (dep.ga().equals("org.knowm.xchart:xchart")) {
                    String text = Files.readString(ROOT.resolve(module).resolve("target/.flattened-pom.xml"));
                    assertTrue(
                            text.contains("<artifactId>junit-jupiter</artifactId>"),
                            module + ": xchart without its junit-jupiter exclusion");
                }
            }
        }
        List<String> compilerDeps =
                consumed(published("compiler")).stream().map(Dep::ga).toList();
        assertTrue(compilerDeps.contains("dev.forge:forge-runtime"), compilerDeps.toString());
        assertTrue(compilerDeps.contains("com.google.protobuf:protobuf-java"), compilerDeps.toString());
    }

    @Test
    void the_bom_manages_the_forge_artifacts_and_onnx_runtime_and_nothing_else() throws Exception {
        Document bom = published("bom");
        assertCentralReady("bom", bom);
        assertEquals("pom", text(bom.getDocumentElement(), "packaging"));
        List<Dep> managed = deps(bom, "dependencyManagement");
        String forge = version(published("runtime"));
        String ort = consumed(published("runtime")).get(0).version();
        assertEquals(
                List.of(
                        new Dep("dev.forge", "forge-runtime", forge, "jar", "compile"),
                        new Dep("dev.forge", "forge-compiler", forge, "jar", "compile"),
                        new Dep("dev.forge", "forge-models", forge, "jar", "compile"),
                        new Dep("com.microsoft.onnxruntime", "onnxruntime", ort, "jar", "compile"),
                        new Dep("com.microsoft.onnxruntime", "onnxruntime_gpu", ort, "jar", "compile")),
                managed,
                "bom/pom.xml repeats the project version and onnxruntime.version of the parent; keep them equal");
        assertEquals(forge, version(bom));
    }

    @Test
    void testdata_and_benchmarks_are_never_installed_or_deployed() throws Exception {
        for (String module : List.of("testdata", "benchmarks")) {
            Document d = DocumentBuilderFactory.newInstance()
                    .newDocumentBuilder()
                    .parse(ROOT.resolve(module).resolve("pom.xml").toFile());
            Element props = child(d.getDocumentElement(), "properties");
            assertTrue(props != null, module + ": no <properties>");
            assertEquals("true", text(props, "maven.install.skip"), module);
            assertEquals("true", text(props, "maven.deploy.skip"), module);
        }
    }
}
