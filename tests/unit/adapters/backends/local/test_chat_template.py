from __future__ import annotations

import pytest

from llmaas.adapters.backends.local.chat_template import ChatTemplate, to_template_message
from llmaas.domain.errors import InvalidRequest
from llmaas.openai_schema.chat import ChatCompletionRequest

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
STRICT = (
    "{% for m in messages %}{% if m['role'] == 'system' and not loop.first %}"
    "{{ raise_exception('System message must be first, got: ' + m['content']) }}{% endif %}"
    "{{ m['content'] }}{% endfor %}"
)
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}


def request(messages: list[dict[str, object]], **fields: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "m", "messages": messages, **fields})


def test_parts_developer_role_and_tool_calls_reach_the_template() -> None:
    template = ChatTemplate(CHATML, eos_token="<|im_end|>", bos_token="")
    rendered = template.render(
        request(
            [
                {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
                {"role": "user", "content": "Hi"},
            ]
        ),
        with_tools=False,
    )
    assert "<|im_start|>system\nBe brief.<|im_end|>" in rendered.text
    assert rendered.text.endswith("<|im_start|>assistant\n")


def test_templates_without_tools_get_the_tool_prompt_in_the_system_message() -> None:
    template = ChatTemplate(CHATML, eos_token="<|im_end|>", bos_token="")
    rendered = template.render(
        request([{"role": "user", "content": "Weather?"}], tools=[WEATHER]), with_tools=True
    )
    assert "<tools>" in rendered.text
    assert '"get_weather"' in rendered.text
    assert rendered.text.index("<tools>") < rendered.text.index("Weather?")


def test_a_conversation_the_template_refuses_is_a_client_error_that_quotes_nothing() -> None:
    template = ChatTemplate(STRICT, eos_token="</s>", bos_token="<s>")
    messages: list[dict[str, object]] = [
        {"role": "user", "content": "hello"},
        {"role": "system", "content": "secret-system-text"},
    ]
    with pytest.raises(InvalidRequest) as caught:
        template.render(request(messages), with_tools=False)
    assert caught.value.param == "messages"
    assert caught.value.code == "invalid_conversation"
    assert "secret-system-text" not in caught.value.message


def test_images_are_refused_rather_than_dropped() -> None:
    request = ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is it?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
                    ],
                }
            ],
        }
    )
    with pytest.raises(InvalidRequest) as caught:
        to_template_message(request.messages[0])
    assert caught.value.code == "unsupported_capability"
