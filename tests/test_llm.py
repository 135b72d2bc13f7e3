"""The LLM path over real HTTP against a scripted OpenAI-compatible server on loopback."""

import re
import string

import pytest

from rag import Assistant, prompts

from .conftest import SEEDS, assert_exact
from .openai_stub import ScriptedOpenAI, source_number


@pytest.fixture(scope="module")
def llm_server():
    with ScriptedOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def llm_assistant(tmp_path_factory, embedder, llm_server):
    a = Assistant(data_dir=tmp_path_factory.mktemp("llm"), embed_model=embedder, llm_base_url=llm_server.url,
                  llm_model="test-model", llm_timeout=10, llm_api_key="sk-secret-4417")
    a.ingest([SEEDS])
    return a


def test_streamed_answer_with_verified_citations(llm_assistant, llm_server):
    def script(messages):
        n = source_number(messages, "Khtsaberd and Khin Taher")
        return f"On December 12, Azerbaijan attacked the villages of Khtsaberd and Khin Taher [{n}]."

    llm_server.script(script)
    from rag.types import Final, TextDelta

    *deltas, final = list(llm_assistant.stream("Which villages did Azerbaijan attack on December 12?"))
    assert len(deltas) > 3 and all(isinstance(d, TextDelta) for d in deltas)  # token by token
    assert isinstance(final, Final)
    answer = final.answer
    assert answer.mode == "llm" and not answer.abstained and answer.notice is None
    assert "Khtsaberd" in answer.text and answer.text.endswith("[1]")
    assert len(answer.citations) == 1 and "Khin Taher" in answer.citations[0].quote
    assert_exact(llm_assistant, answer)
    request = llm_server.requests[-1]
    assert request["stream"] is True and request["model"] == "test-model"


def test_wrong_source_and_invented_sentence_are_dropped(llm_assistant, llm_server):
    def script(messages):
        right = source_number(messages, "iron fist")
        wrong = source_number(messages, "Lachin")
        return (f"Ilham Aliyev promised to crush the Armenians with an iron fist [{right}]. "
                f"Aliyev also said that 6 Armenian fighters were injured [{wrong}]. "
                f"He announced a new airport in Shusha opening in 2031 [{right}].")

    llm_server.script(script)
    answer = llm_assistant.ask("What did Ilham Aliyev promise?")
    assert "iron fist" in answer.text
    assert "fighters" not in answer.text and "airport" not in answer.text
    assert "2 unsupported sentence(s) removed" in answer.notice
    assert [c.id for c in answer.citations] == [1] and "iron fist" in answer.citations[0].quote
    assert_exact(llm_assistant, answer)


def test_renumbers_citations_in_order_of_use(llm_assistant, llm_server):
    def script(messages):
        a = source_number(messages, "Hin Shen")
        b = source_number(messages, "repelled")
        return f"Armenia claimed Azerbaijani forces attacked Hin Shen and Mets Shen [{a}]. However, this attack was repelled [{b}]."

    llm_server.script(script)
    answer = llm_assistant.ask("Which villages did Armenia say were attacked on December 13?")
    assert re.findall(r"\[(\d+)\]", answer.text) == ["1", "2"]
    assert "Hin Shen" in answer.citations[0].quote and "repelled" in answer.citations[1].quote


def test_not_in_documents_abstains(llm_assistant, llm_server):
    llm_server.script(lambda messages: prompts.NOT_IN_DOCUMENTS)
    answer = llm_assistant.ask("Who is the Prime Minister of Armenia?")
    assert answer.abstained and "don't say" in answer.text


@pytest.mark.parametrize("failure", [500, 429])
def test_http_errors_fall_back_to_extractive(llm_assistant, llm_server, failure):
    llm_server.script(lambda messages: failure)
    answer = llm_assistant.ask("What did Ilham Aliyev promise?")
    assert answer.mode == "extractive" and "iron fist" in answer.text
    assert answer.notice.startswith("LLM unavailable") and str(failure) in answer.notice
    # status and reason only: never the endpoint's body, which here echoes the request's API key
    assert "sk-secret-4417" not in answer.notice and "headers" not in answer.notice
    assert llm_server.requests and "sk-secret-4417" in str(llm_server.last_headers)


def test_unreachable_endpoint_falls_back(tmp_path, embedder):
    a = Assistant(data_dir=tmp_path, embed_model=embedder, llm_base_url="http://127.0.0.1:9/v1", llm_timeout=5)
    a.ingest([SEEDS])
    answer = a.ask("What did Ilham Aliyev promise?")
    assert answer.mode == "extractive" and "iron fist" in answer.text and "LLM unavailable" in answer.notice


def test_follow_up_is_condensed_by_the_llm_before_retrieval(llm_assistant, llm_server):
    seen = []

    def script(messages):
        if "Standalone question" in messages[-1]["content"]:
            return "What did Ilham Aliyev, the President of Azerbaijan, promise?"
        seen.append(messages[-1]["content"])
        return f"He promised to crush the Armenians with an iron fist [{source_number(messages, 'iron fist')}]."

    llm_server.script(script)
    history = [{"role": "user", "content": "Who is the President of Azerbaijan?"},
               {"role": "assistant", "content": "Ilham Aliyev [1]"}]
    answer = llm_assistant.ask("What did he promise?", history=history)
    assert "iron fist" in answer.text and "condense_ms" in answer.timings_ms
    assert "iron fist" in seen[-1]  # the condensed question retrieved the right passage


def test_sources_are_fitted_into_a_small_context_window(tmp_path, embedder, llm_server):
    a = Assistant(data_dir=tmp_path, embed_model=embedder, llm_base_url=llm_server.url, llm_model="test-model",
                  llm_context_window=700, llm_max_tokens=64)
    a.ingest([SEEDS])
    prompts_seen = []

    def script(messages):
        prompts_seen.append(messages[-1]["content"])
        return prompts.NOT_IN_DOCUMENTS

    llm_server.script(script)
    answer = a.ask("What happened in Nagorno-Karabakh?")
    assert "left out to fit the 700-token context window" in (answer.notice or "")
    from rag.chunking import count_tokens

    assert count_tokens(prompts_seen[-1]) + count_tokens(prompts.ANSWER_SYSTEM) <= 700 - 64


def test_prompt_placeholders_are_the_ones_filled():
    fields = {f for _, f, _, _ in string.Formatter().parse(prompts.ANSWER_USER) if f}
    assert fields == {"sources", "question"}
    fields = {f for _, f, _, _ in string.Formatter().parse(prompts.CONDENSE_USER) if f}
    assert fields == {"conversation", "question"}


def test_doctor_checks_the_endpoint(tmp_path, llm_server):
    from rag.doctor import check_llm
    from rag.settings import Settings

    assert "serves 'test-model'" in check_llm(Settings(data_dir=tmp_path, llm_base_url=llm_server.url, llm_model="test-model"))
    with pytest.raises(RuntimeError, match="not served"):
        check_llm(Settings(data_dir=tmp_path, llm_base_url=llm_server.url, llm_model="other"))
