import pytest
from pydantic import ValidationError

from rag import Settings


def test_environment_and_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_TOP_K", "7")
    monkeypatch.setenv("RAG_CHROMA_HOST", "10.0.0.5")
    s = Settings(data_dir=tmp_path, chunk_size=100)
    assert (s.top_k, s.chroma_host, s.chunk_size) == (7, "10.0.0.5", 100)
    assert Settings(data_dir=tmp_path, top_k=3).top_k == 3  # overrides beat the environment


def test_rag_toml_in_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("RAG_DATA_DIR", raising=False)
    (tmp_path / "rag.toml").write_text('top_k = 9\nanswer_mode = "extractive"\n')
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.top_k == 9 and s.effective_mode() == "extractive"


@pytest.mark.parametrize("field,value", [("top_k", 0), ("collection", "a"), ("answer_mode", "magic"),
                                         ("chunk_size", 1000), ("bogus", 1)])
def test_bad_values_name_the_field(tmp_path, field, value):
    with pytest.raises(ValidationError) as e:
        Settings(data_dir=tmp_path, **{field: value})
    assert field in str(e.value)


def test_auto_mode_uses_the_llm_only_when_configured(tmp_path):
    assert Settings(data_dir=tmp_path).effective_mode() == "extractive"
    assert Settings(data_dir=tmp_path, llm_base_url="http://127.0.0.1:1/v1").effective_mode() == "llm"
    assert Settings(data_dir=tmp_path, llm_base_url="http://x/v1", answer_mode="extractive").effective_mode() == "extractive"
