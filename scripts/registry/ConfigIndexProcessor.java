package local.aclistsync.registry;

import java.util.ArrayList;
import java.util.List;

import org.jboss.jandex.AnnotationInstance;
import org.jboss.jandex.AnnotationTarget;
import org.jboss.jandex.AnnotationValue;
import org.jboss.jandex.DotName;
import org.jboss.jandex.FieldInfo;
import org.jboss.jandex.Type;

import apicurio.common.app.components.config.index.DynamicPropertiesInfoRecorder;
import io.apicurio.common.apps.config.DynamicConfigPropertyDef;
import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import io.quarkus.arc.deployment.BeanArchiveIndexBuildItem;
import io.quarkus.arc.deployment.SyntheticBeanBuildItem;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.annotations.ExecutionTime;
import io.quarkus.deployment.annotations.Record;
import io.quarkus.runtime.RuntimeValue;

/**
 * Build step of the local stand-in for apicurio-common-app-components-config-index-deployment 0.1.18.Final, the
 * deployment half of a Quarkus extension that Maven Central does not serve. Written for ac-list-sync's test
 * registry (scripts/registry-local.sh): it lists every field injected with @ConfigProperty and marked @Dynamic as
 * a DynamicConfigPropertyDef, and offers the list as the DynamicConfigPropertyList bean that the registry injects.
 */
public class ConfigIndexProcessor {
    private static final DotName DYNAMIC = DotName.createSimple("io.apicurio.common.apps.config.Dynamic");
    private static final DotName CONFIG_PROPERTY = DotName.createSimple("org.eclipse.microprofile.config.inject.ConfigProperty");

    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    void dynamicProperties(BeanArchiveIndexBuildItem index, DynamicPropertiesInfoRecorder recorder, BuildProducer<SyntheticBeanBuildItem> beans) {
        List<DynamicConfigPropertyDef> defs = new ArrayList<>();
        for (AnnotationInstance dynamic : index.getIndex().getAnnotations(DYNAMIC)) {
            if (dynamic.target().kind() != AnnotationTarget.Kind.FIELD) continue;
            FieldInfo field = dynamic.target().asField();
            AnnotationInstance property = field.annotation(CONFIG_PROPERTY);
            if (property == null) continue;
            DynamicConfigPropertyDef def = new DynamicConfigPropertyDef(property.value("name").asString(), valueType(field.type()), text(property.value("defaultValue")));
            def.setLabel(text(dynamic.value("label")));
            def.setDescription(text(dynamic.value("description")));
            AnnotationValue requires = dynamic.value("requires");
            def.setRequires(requires == null ? new String[0] : requires.asStringArray());
            defs.add(def);
        }
        RuntimeValue<DynamicConfigPropertyList> list = recorder.initializePropertiesInfo(defs);
        beans.produce(SyntheticBeanBuildItem.configure(DynamicConfigPropertyList.class).runtimeValue(list).unremovable().setRuntimeInit().done());
    }

    /** The T of an injected Supplier<T> (the registry's dynamic properties are all suppliers of a java.lang type). */
    private static Class<?> valueType(Type type) {
        Type value = type.kind() == Type.Kind.PARAMETERIZED_TYPE ? type.asParameterizedType().arguments().get(0) : type;
        try {
            return Class.forName(value.name().toString());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("dynamic config property of unknown type " + value.name(), e);
        }
    }

    private static String text(AnnotationValue value) {
        return value == null ? null : value.asString();
    }
}
