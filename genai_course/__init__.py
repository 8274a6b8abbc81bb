"""genai_course: the tested implementations the course notebooks import.

Grouped by what the code is, not by chapter (code is reused across chapters)::

    runtime, grading   what every notebook imports: device, seeds, run modes; the check_*
                       helpers of graded test cells
    core/              input checks, layers, the one training loop ``fit``, the model contract
    data/              offline datasets: TinyLang, 2-D toys, digits, corpora, history tables
    classic/           n-grams, generative vs discriminative classifiers, growth fits (ch. 1)
    generative/        VAE, GAN, RealNVP, energy/score models, MADE (ch. 2)
    llm/               tokenizers, attention, the GPT, MoE, masked LM, decoding (ch. 3, 6-10)
    diffusion/         schedules, DDPM/DDIM samplers, denoisers, training, latent (ch. 4, 9, 10)
    evaluation/        sample distances, judge networks, text/image/code metrics (ch. 2, 4, 8)
    prompting/         few-shot prompts, self-consistency, constrained JSON, injection (ch. 6)
    applications/      retrieval and RAG prompts, levels, music, code, costs (ch. 9)
    safety/            bias, filters, PII, memorisation, watermarks, provenance (ch. 10)
    serving/           TinyChat's OpenAI-compatible server and the one chat client (ch. 6-10)
    viz/               plots and widgets
    pretrained/        the shipped checkpoints: a registry and one recipe per checkpoint
    course/            the instructor's machinery (release, grading, sandbox, CLI); students
                       never import it

Subpackages are imported on demand (``from genai_course.classic import ngram``), so
``import genai_course`` stays fast. Each module's docstring says which chapters use it.
"""

__version__ = "0.1.0"
