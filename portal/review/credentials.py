"""Content credentials (C2PA) for approved generated outputs, over local files, through c2pa-python.

What the manifest says (`build_manifest`): which tool and version made the file (claim generator and
the `c2pa.created` action's software agent), its digital source type (`digital_source_type`), the
run's inputs as ingredients with their SHA-256, who approved it and when (`com.aistudio.approval`,
plus a `c2pa.published` action), and the training-and-mining assertion with every use `notAllowed`.

How it is attached (`sign`): embedded in the file where the library can write it, which with the
pinned c2pa-rs 0.91 is PNG, JPEG, TIFF, WebP, GIF, MP4/MOV (ProRes included: it is ISO BMFF), AVI,
WAV, MP3, FLAC, PDF and SVG (`Builder.get_supported_mime_types()`). Everything else the tools make
(.edl, .srt, .otio, .json, .html, .zip) gets a sidecar manifest store (`<name>.c2pa`) bound to the
file's bytes by a data hash, and the file itself is left as it was.

Nothing here touches Django, the database or storage: portal/review/services.py does that."""

from __future__ import annotations

import ctypes
import hashlib
import json
import mimetypes
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = "trainedAlgorithmicMedia"
COMPOSITE_TRAINED = "compositeWithTrainedAlgorithmicMedia"
ALGORITHMIC = "algorithmicMedia"
# Tools that never run a trained model whatever their report says: the crowd extension tiles the
# plate's own people with classical computer vision (HOG detection, matting, seeded placement).
NON_AI_TOOLS = {"crowd", "contactsheet"}
TRAINING_MINING_USES = ("c2pa.ai_generative_training", "c2pa.ai_inference", "c2pa.ai_training", "c2pa.data_mining")
APPROVAL_LABEL = "com.aistudio.approval"
RUN_LABEL = "com.aistudio.run"
SIDECAR_SUFFIX = ".c2pa"
CLAIM_GENERATOR = "AI Studio Partner Portal"
ALGORITHMS = {"es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519"}
EXTRA_TYPES = {".mov": "video/quicktime", ".mp4": "video/mp4", ".m4v": "video/mp4", ".png": "image/png"}


class CredentialsError(Exception):
    """Signing or reading failed; the message is for people."""


@dataclass(frozen=True)
class SignerConfig:
    cert_chain: bytes
    private_key: bytes
    algorithm: str = "es256"
    timestamp_url: str | None = None
    trust_anchors: bytes | None = None

    @classmethod
    def from_paths(
        cls, cert: str, key: str, *, algorithm: str = "es256", timestamp_url: str = "", trust_anchors: str = ""
    ) -> SignerConfig:
        algorithm = (algorithm or "es256").lower()
        if algorithm not in ALGORITHMS:
            raise CredentialsError(f"C2PA_SIGN_ALG must be one of {', '.join(sorted(ALGORITHMS))}.")
        try:
            chain, private = Path(cert).read_bytes(), Path(key).read_bytes()
            anchors = Path(trust_anchors).read_bytes() if trust_anchors else None
        except OSError as exc:
            raise CredentialsError(f"The platform certificate cannot be read: {exc.strerror or exc}.") from exc
        if b"BEGIN CERTIFICATE" not in chain or b"PRIVATE KEY" not in private:
            raise CredentialsError("C2PA_SIGN_CERT must be a PEM certificate chain and C2PA_SIGN_KEY a PEM private key.")
        return cls(chain, private, algorithm, timestamp_url or None, anchors)

    def certificate_summary(self) -> dict[str, str]:
        """Who the leaf certificate names, and until when it is valid (shown to people)."""
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        leaf = x509.load_pem_x509_certificates(self.cert_chain)[0]

        def name(n):
            values = n.get_attributes_for_oid(NameOID.COMMON_NAME) or n.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
            return str(values[0].value) if values else n.rfc4514_string()

        return {"subject": name(leaf.subject), "issuer": name(leaf.issuer), "not_after": leaf.not_valid_after_utc.isoformat()}


@dataclass
class SignResult:
    mode: str  # "embedded" | "sidecar"
    path: Path  # the file to serve: the signed copy (embedded) or the untouched original (sidecar)
    sha256: str
    sidecar_path: Path | None = None
    sidecar_sha256: str = ""
    report: dict[str, Any] = field(default_factory=dict)


def media_type_for(name: str, fallback: str = "") -> str:
    suffix = Path(name).suffix.lower()
    return EXTRA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or fallback or "application/octet-stream"


def embeddable(media_type: str) -> bool:
    import c2pa

    return media_type in set(c2pa.Builder.get_supported_mime_types())


def digital_source_type(provenance: dict[str, Any]) -> str:
    """The IPTC digital source type of one tool output (see docs/content-credentials.md):
    the crowd tiling and the contact sheet run no trained model: algorithmicMedia; any other tool whose
    run used a model: compositeWithTrainedAlgorithmicMedia when it worked from input media (the model's
    part is composited with captured material), trainedAlgorithmicMedia when it made the output from
    nothing but the model; a run without a model: algorithmicMedia."""
    tool = str(provenance.get("tool") or "")
    if tool in NON_AI_TOOLS or not provenance.get("model"):
        return ALGORITHMIC
    return COMPOSITE_TRAINED if provenance.get("inputs") else TRAINED


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(8 * 1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def build_manifest(
    *,
    title: str,
    media_type: str,
    provenance: dict[str, Any],
    approver: dict[str, str],
    approved_at: datetime,
    decision_id: int,
    reviewed_sha256: str,
    portal_version: str,
) -> dict[str, Any]:
    tool = str(provenance.get("tool") or "unknown")
    tool_version = str(provenance.get("tool_version") or provenance.get("version") or "")
    source_type = digital_source_type(provenance)
    created = {
        "action": "c2pa.created",
        "digitalSourceType": IPTC + source_type,
        "softwareAgent": {"name": tool, "version": tool_version},
    }
    if provenance.get("started_at"):
        created["when"] = str(provenance["started_at"])
    ingredients = []
    for item in provenance.get("inputs") or []:
        name = str(item.get("name") or "input")
        ingredients.append(
            {
                "title": name,
                "format": media_type_for(name),
                "relationship": "inputTo",
                "instance_id": f"portal:version:{item.get('version')}",
                "description": f"{item.get('kind') or 'input'} ({item.get('slot') or 'input'})",
                "metadata": {"com.aistudio.sha256": str(item.get("sha256") or "")},
            }
        )
    approval = {
        "approved_by": {"name": approver.get("name", ""), "email": approver.get("email", "")},
        "approved_at": approved_at.isoformat(),
        "decision": decision_id,
        "reviewed_sha256": reviewed_sha256,
    }
    return {
        "claim_generator_info": [{"name": CLAIM_GENERATOR, "version": portal_version}],
        "title": title,
        "format": media_type,
        "ingredients": ingredients,
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        created,
                        {
                            "action": "c2pa.published",
                            "when": approved_at.isoformat(),
                            "softwareAgent": {"name": CLAIM_GENERATOR, "version": portal_version},
                            "description": f"Approved for release by {approver.get('email', '')}",
                        },
                    ]
                },
            },
            {
                "label": "c2pa.training-mining",
                "data": {"entries": {use: {"use": "notAllowed"} for use in TRAINING_MINING_USES}},
            },
            {"label": APPROVAL_LABEL, "data": approval},
            {
                "label": RUN_LABEL,
                "data": {
                    "run": provenance.get("run"),
                    "tool": tool,
                    "tool_version": tool_version,
                    "model": provenance.get("model"),
                    "provider": provenance.get("provider"),
                    "seed": provenance.get("seed"),
                    "digital_source_type": source_type,
                },
            },
        ],
    }


def _signer(config: SignerConfig):
    import c2pa

    info = c2pa.C2paSignerInfo(config.algorithm.encode(), config.cert_chain, config.private_key, config.timestamp_url)
    return c2pa.Signer.from_info(info)


def _context(config_anchors: bytes | None):
    import c2pa

    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if config_anchors:
        settings["trust"] = {"trust_anchors": config_anchors.decode()}
    return c2pa.Context(c2pa.Settings.from_dict(settings))


def sign(source: Path, workdir: Path, manifest: dict[str, Any], config: SignerConfig) -> SignResult:
    """Sign `source` (left untouched): an embedded copy in `workdir` where the format allows it, else a
    sidecar manifest store beside an unchanged copy. The result is read back and must validate."""
    import c2pa

    workdir.mkdir(parents=True, exist_ok=True)
    media_type = manifest.get("format") or media_type_for(source.name)
    try:
        if embeddable(media_type):
            target = workdir / f"signed{source.suffix.lower()}"
            builder = c2pa.Builder.from_json(manifest)
            with open(source, "rb") as src, open(target, "w+b") as dst:
                builder.sign(_signer(config), media_type, src, dst)
            result = SignResult("embedded", target, sha256_of(target))
        else:
            sidecar = workdir / f"manifest{SIDECAR_SUFFIX}"
            sidecar.write_bytes(_sign_sidecar(source, manifest, config))
            result = SignResult("sidecar", source, sha256_of(source), sidecar, sha256_of(sidecar))
    except c2pa.C2paError as exc:
        raise CredentialsError(f"The file could not be signed: {exc}") from exc
    result.report = read(result.path, media_type, sidecar=result.sidecar_path, trust_anchors=config.trust_anchors)
    if result.report["state"] not in ("Valid", "Trusted"):
        raise CredentialsError(f"The signed file does not validate: {', '.join(result.report['failures']) or 'unknown'}.")
    return result


def self_test(config: SignerConfig) -> None:
    """Sign and read back a tiny picture: a certificate the library refuses (wrong EKU, expired, key
    that does not match) fails here, at the deploy check, rather than at the first approval."""
    import tempfile

    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="c2pa-selftest-") as folder:
        picture = Path(folder) / "self-test.png"
        Image.new("RGB", (8, 8), (40, 40, 40)).save(picture)
        manifest = {
            "claim_generator_info": [{"name": CLAIM_GENERATOR, "version": "self-test"}],
            "title": "self-test.png",
            "format": "image/png",
            "assertions": [
                {
                    "label": "c2pa.actions.v2",
                    "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": IPTC + ALGORITHMIC}]},
                }
            ],
        }
        sign(picture, Path(folder) / "signed", manifest, config)


def _sign_sidecar(source: Path, manifest: dict[str, Any], config: SignerConfig) -> bytes:
    """A manifest store for a format no C2PA handler can embed into, bound to the whole file by a
    `c2pa.hash.data` assertion. c2pa-python 0.38 wraps the data-hash calls of the C API without
    exposing them, so they are called here on the Builder's own handles (pinned version; the
    read-back in `sign` proves the result)."""
    import c2pa
    from c2pa import c2pa as native

    lib = native._lib
    byte_ptr = ctypes.POINTER(ctypes.c_ubyte)
    lib.c2pa_builder_data_hashed_placeholder.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.POINTER(byte_ptr),
    ]
    lib.c2pa_builder_data_hashed_placeholder.restype = ctypes.c_int64
    lib.c2pa_builder_sign_data_hashed_embeddable.argtypes = [
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_void_p,
        ctypes.POINTER(byte_ptr),
    ]
    lib.c2pa_builder_sign_data_hashed_embeddable.restype = ctypes.c_int64

    manifest = {**manifest, "format": "application/c2pa"}
    builder = c2pa.Builder.from_json(manifest)
    signer = _signer(config)
    try:
        placeholder = byte_ptr()
        size = lib.c2pa_builder_data_hashed_placeholder(
            ctypes.cast(builder._handle, ctypes.c_void_p), signer.reserve_size(), b"application/c2pa", ctypes.byref(placeholder)
        )
        if size < 0:
            raise c2pa.C2paError(native._read_native_error() or "placeholder failed")
        lib.c2pa_free(placeholder)
        data_hash = json.dumps({"exclusions": [], "name": "jumbf manifest", "alg": "sha256", "hash": [], "pad": []})
        with open(source, "rb") as handle:
            stream = c2pa.Stream(handle)
            try:
                out = byte_ptr()
                size = lib.c2pa_builder_sign_data_hashed_embeddable(
                    ctypes.cast(builder._handle, ctypes.c_void_p),
                    ctypes.cast(signer._handle, ctypes.c_void_p),
                    data_hash.encode(),
                    b"application/c2pa",
                    ctypes.cast(stream._stream, ctypes.c_void_p),
                    ctypes.byref(out),
                )
                if size < 0:
                    raise c2pa.C2paError(native._read_native_error() or "signing failed")
                try:
                    return ctypes.string_at(out, size)
                finally:
                    lib.c2pa_free(out)
            finally:
                stream.close()
    finally:
        signer.close()
        builder.close()


def read(path: Path, media_type: str, *, sidecar: Path | None = None, trust_anchors: bytes | None = None) -> dict[str, Any]:
    """What the file's credentials say and whether they hold, with the library's Reader:
    {"state": Valid|Trusted|Invalid|None, "failures": [codes], "manifest": active manifest or None}."""
    import c2pa

    try:
        context = _context(trust_anchors)
        with open(path, "rb") as handle:
            if sidecar is not None:
                reader = c2pa.Reader(media_type, handle, Path(sidecar).read_bytes(), context=context)
            else:
                reader = c2pa.Reader.try_create(media_type, handle, None, context=context)
                if reader is None:
                    return {"state": None, "failures": ["manifest.missing"], "manifest": None}
            with reader:
                results = reader.get_validation_results() or {}
                failures = [f.get("code", "") for f in (results.get("activeManifest") or {}).get("failure", [])]
                return {"state": reader.get_validation_state(), "failures": failures, "manifest": reader.get_active_manifest()}
    except c2pa.C2paError as exc:
        return {"state": "Invalid", "failures": [str(exc)[:200]], "manifest": None}


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The fields people read, from a `read` report (what the review page and the API show)."""
    manifest = report.get("manifest") or {}
    assertions = {a.get("label"): a.get("data") for a in manifest.get("assertions") or []}
    actions = (assertions.get("c2pa.actions.v2") or {}).get("actions") or []
    created = next((a for a in actions if a.get("action") == "c2pa.created"), {})
    approval = assertions.get(APPROVAL_LABEL) or {}
    mining = (assertions.get("c2pa.training-mining") or {}).get("entries") or {}
    signature = manifest.get("signature_info") or {}
    return {
        "state": report.get("state"),
        "valid": report.get("state") in ("Valid", "Trusted"),
        "trusted": report.get("state") == "Trusted",
        "failures": [f for f in report.get("failures") or [] if f != "signingCredential.untrusted"],
        "tool": (created.get("softwareAgent") or {}).get("name"),
        "tool_version": (created.get("softwareAgent") or {}).get("version"),
        "digital_source_type": str(created.get("digitalSourceType") or "").removeprefix(IPTC),
        "created_at": created.get("when"),
        "approved_by": approval.get("approved_by") or {},
        "approved_at": approval.get("approved_at"),
        "training_mining": {use: (value or {}).get("use") for use, value in mining.items()},
        "ingredients": [
            {
                "title": i.get("title"),
                "format": i.get("format"),
                "sha256": (i.get("metadata") or {}).get("com.aistudio.sha256"),
                "relationship": i.get("relationship"),
            }
            for i in manifest.get("ingredients") or []
        ],
        "signer": signature.get("common_name") or signature.get("issuer"),
        "issuer": signature.get("issuer"),
        "signed_at": signature.get("time"),
    }
