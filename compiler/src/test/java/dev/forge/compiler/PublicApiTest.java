package dev.forge.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The compiler's public API names no protobuf type: the classes protoc generates from {@code onnx.proto}
 * ({@code dev.forge.compiler.onnx.proto}) and protobuf's runtime are implementation details, so a user
 * never compiles against them and they can change with the protobuf version.
 */
class PublicApiTest {
    private static final List<String> INTERNAL = List.of("dev.forge.compiler.onnx.proto.", "com.google.protobuf.");

    @Test
    void no_public_signature_mentions_a_protobuf_type() throws Exception {
        List<String> leaks = new ArrayList<>();
        List<Class<?>> types = publicTypes();
        assertTrue(types.size() > 50, "expected the compiler's classes under target/classes, found " + types.size());
        for (Class<?> c : types) {
            check(
                    leaks,
                    c,
                    "extends",
                    c.getGenericSuperclass() == null
                            ? ""
                            : c.getGenericSuperclass().getTypeName());
            for (var i : c.getGenericInterfaces()) {
                check(leaks, c, "implements", i.getTypeName());
            }
            for (Method m : c.getDeclaredMethods()) {
                if (visible(m) && !m.isSynthetic()) {
                    check(leaks, c, m.getName() + "(...)", m.toGenericString());
                }
            }
            for (Constructor<?> k : c.getDeclaredConstructors()) {
                if (visible(k) && !k.isSynthetic()) {
                    check(leaks, c, "constructor", k.toGenericString());
                }
            }
            for (Field f : c.getDeclaredFields()) {
                if (visible(f) && !f.isSynthetic()) {
                    check(leaks, c, f.getName(), f.toGenericString());
                }
            }
        }
        assertEquals(
                List.of(),
                leaks,
                "public signatures that expose protobuf types; make them package-private "
                        + "or take/return Forge types (Graph, Tensor, byte[]) instead");
    }

    @Test
    void the_check_sees_a_leak() {
        List<String> leaks = new ArrayList<>();
        check(leaks, PublicApiTest.class, "f", "public static dev.forge.compiler.onnx.proto.Onnx$ModelProto f()");
        assertEquals(1, leaks.size());
    }

    private static void check(List<String> leaks, Class<?> owner, String what, String signature) {
        if (INTERNAL.stream().anyMatch(signature::contains)) {
            leaks.add(owner.getName() + " " + what + ": " + signature);
        }
    }

    private static boolean visible(Member m) {
        return Modifier.isPublic(m.getModifiers()) || Modifier.isProtected(m.getModifiers());
    }

    /** Every public top-level or nested-in-public class of the compiler's main output, generated code excluded. */
    private static List<Class<?>> publicTypes() throws IOException, ClassNotFoundException {
        Path root = Path.of("target", "classes").toAbsolutePath();
        List<Class<?>> out = new ArrayList<>();
        List<String> names;
        try (Stream<Path> files = Files.walk(root)) {
            names = files.map(p -> root.relativize(p).toString())
                    .filter(s -> s.endsWith(".class") && !s.equals("module-info.class"))
                    .map(s -> s.substring(0, s.length() - ".class".length()).replace('/', '.'))
                    .filter(s -> s.startsWith("dev.forge.compiler.") && !s.startsWith("dev.forge.compiler.onnx.proto."))
                    .sorted()
                    .toList();
        }
        for (String name : names) {
            Class<?> c = Class.forName(name, false, PublicApiTest.class.getClassLoader());
            boolean api = true;
            for (Class<?> k = c; k != null; k = k.getEnclosingClass()) {
                api &= Modifier.isPublic(k.getModifiers()) && !k.isAnonymousClass() && !k.isLocalClass();
            }
            if (api) {
                out.add(c);
            }
        }
        return out;
    }
}
