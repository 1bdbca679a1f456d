import Foundation

/// The software a template's runs see, measured inside the sandbox under the template's policy by a fixed
/// program of the project's (never the model's): the Python version, the version of each package that
/// experiment.py imports, and, for torch, its CUDA and cuDNN versions and the devices it reports. A paper's
/// software facts come from here, not from the model.
public enum SoftwareProbe {
    /// The probe, run as `python -c PROGRAM MODULE...` in the workspace. It prints one JSON object.
    static let program = """
        import importlib, importlib.metadata, json, os, platform, sys
        facts = {"python": platform.python_version(), "implementation": platform.python_implementation(),
                 "executable": sys.executable, "platform": platform.platform(), "packages": {}}
        try:
            owners = importlib.metadata.packages_distributions()
        except Exception:
            owners = {}
        for name in sys.argv[1:]:
            entry = {}
            if name in getattr(sys, "stdlib_module_names", ()):
                entry["kind"] = "stdlib"
            else:
                try:
                    module = importlib.import_module(name)
                except Exception as error:
                    entry["kind"] = "missing"
                    entry["error"] = type(error).__name__ + ": " + str(error)[:200]
                else:
                    distributions = owners.get(name) or []
                    version = None
                    for distribution in distributions:
                        try:
                            version = importlib.metadata.version(distribution)
                            entry["distribution"] = distribution
                            break
                        except Exception:
                            pass
                    if version is None:
                        version = getattr(module, "__version__", None)
                    origin = getattr(module, "__file__", None) or ""
                    local = origin and os.path.abspath(origin).startswith(os.getcwd() + os.sep)
                    entry["kind"] = "local" if local else "package"
                    if version is not None:
                        entry["version"] = str(version)
            facts["packages"][name] = entry
        if facts["packages"].get("torch", {}).get("kind") == "package":
            import torch
            cuda = {"built_with": torch.version.cuda, "available": bool(torch.cuda.is_available())}
            try:
                cuda["cudnn"] = torch.backends.cudnn.version()
            except Exception:
                cuda["cudnn"] = None
            if cuda["available"]:
                cuda["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            facts["torch"] = cuda
        print(json.dumps(facts, sort_keys=True))
        """

    /// The top-level modules `code` imports (`import a.b, c as d`, `from e.f import g`), in order, without
    /// relative imports; "__future__" left out.
    public static func importedModules(_ code: String) -> [String] {
        var found: [String] = []
        func add(_ dotted: Substring) {
            let name = String(dotted.split(separator: ".").first ?? "").trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name != "__future__", name.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }),
                  !found.contains(name) else { return }
            found.append(name)
        }
        for raw in code.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("import ") {
                for part in line.dropFirst(7).split(separator: "#").first?.split(separator: ",") ?? [] {
                    add(part.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
                }
            } else if line.hasPrefix("from ") {
                let module = line.dropFirst(5).split(separator: " ").first ?? ""
                if !module.hasPrefix(".") { add(module) }
            }
        }
        return found
    }

    /// What the probe printed, checked to be a JSON object; nil when it is not.
    static func facts(fromOutput text: String) -> String? {
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              object["python"] is String else { return nil }
        return String(line)
    }
}
